package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/communs-numerique/communs/internal/httperr"
)

// The errors only the HTTP edge sees; internal/httperr maps them with the
// domain's (one table for the API, the admin socket, the pages and the
// federation).
var (
	errUnsupportedType = httperr.ErrUnsupportedType
	errBadRequest      = httperr.ErrBadRequest
	errTruncatedBody   = httperr.ErrTruncatedBody
	errBodyTimeout     = httperr.ErrTimeout
)

// apiError is the JSON error body: {"error": {"code": "...", "message": "..."}}.
type apiError = httperr.Body

// handler is a handler of the JSON API or the admin socket: it answers
// success itself and returns its failure, which api writes.
type handler func(w http.ResponseWriter, r *http.Request) error

// api adapts h to net/http: a returned error is answered in JSON by
// writeError, the one error path of the API and the admin socket.
func (s *Server) api(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// page adapts an HTML page handler: a returned error is answered with the
// error page in the visitor's language (pageError).
func (s *Server) page(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.pageError(w, r, err)
		}
	}
}

// pageError answers a page's failure: the login page when it needs a
// logged-in editor (errLogin), else the error page (uiError).
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errLogin) {
		http.Redirect(w, r, "/connexion?retour="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	s.uiError(w, r, err)
}

// writeError answers err in JSON: status and code from the one table
// (internal/httperr), a 5xx with a generic text and the id of its log line.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	a, ok := httperr.Resolve(s.log, r, err)
	if !ok {
		return
	}
	if a.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="communs"`)
	}
	writeJSON(w, a.Status, a.JSON())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		slog.Debug("write json", "err", err)
	}
}
