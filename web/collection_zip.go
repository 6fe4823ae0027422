package web

import (
	"fmt"
	"net/http"

	"github.com/communs-numerique/communs/node"
)

// collectionZip answers /collections/{id}.zip. The archive itself (one
// folder per item, LICENCE.txt, a signed manifest.json) comes from the
// bundle package and is wired here; until then the route answers 404 for
// an existing collection too, so no half-made archive is ever served.
func (s *Server) collectionZip(w http.ResponseWriter, r *http.Request, id string) error {
	if _, err := s.svc.GetCollection(r.Context(), id); err != nil {
		return err
	}
	return fmt.Errorf("the zip of collection %q is not available on this hub yet: %w", id, node.ErrNotFound)
}
