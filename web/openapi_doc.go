package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/communs-numerique/communs/web/openapi"
)

// openAPIHandler serves the OpenAPI document with the node's public URL in
// its servers entry. It is built once: the document only changes with the
// binary, so an ETag lets clients and caches revalidate cheaply.
func (s *Server) openAPIHandler() http.HandlerFunc {
	doc, err := openapi.ForServer(s.publicURL)
	sum := sha256.Sum256(doc)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc))
	}
}
