package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/communs-numerique/communs/node"
)

// apiError is the JSON error body: {"error": {"code": "...", "message": "..."}}.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
		// ID names a server-side failure (5xx): the log line of the failure
		// carries the same id, so an admin finds the detail a user reports.
		ID string `json:"id,omitempty"`
	} `json:"error"`
}

// statusOf maps domain errors to HTTP. Anything unknown is a 500 whose
// message hides internals; the log keeps the detail.
func statusOf(err error) (int, string, string, string) {
	var ve *node.ValidationError
	switch {
	case errors.As(err, &ve):
		return http.StatusBadRequest, ve.Code, err.Error(), ve.Field
	case errors.Is(err, errTruncatedBody):
		return http.StatusBadRequest, "truncated_body", "the request body ended before the announced end (connection cut or truncated multipart); nothing was stored, send it again", ""
	case errors.Is(err, node.ErrInvalid):
		// A plain ErrInvalid comes from an adapter refusing an input (a page
		// cursor this node never issued, a malformed digest): the client's
		// mistake, not the node's.
		return http.StatusBadRequest, "invalid", err.Error(), ""
	case errors.Is(err, node.ErrNotFound):
		return http.StatusNotFound, "not_found", err.Error(), ""
	case errors.Is(err, node.ErrConflict):
		return http.StatusConflict, "conflict", err.Error(), ""
	case errors.Is(err, node.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large", err.Error(), ""
	case errors.Is(err, node.ErrUnauthorized):
		return http.StatusUnauthorized, "unauthorized", err.Error(), ""
	case errors.Is(err, node.ErrForbidden):
		return http.StatusForbidden, "forbidden", err.Error(), ""
	case errors.Is(err, node.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable", "storage or search is unavailable right now; nothing was changed, try again in a moment", ""
	case errors.Is(err, errUnsupportedType):
		return http.StatusUnsupportedMediaType, "unsupported_media_type", err.Error(), ""
	case errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout, "timeout", err.Error(), ""
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, "bad_request", err.Error(), ""
	}
	return http.StatusInternalServerError, "internal", "internal error; the node's log has the details", ""
}

var (
	errUnsupportedType = errors.New("unsupported content type")
	errBadRequest      = errors.New("bad request")
	// errTruncatedBody marks a request body that ended early: the client cut
	// the connection or sent a multipart body without its closing boundary.
	errTruncatedBody = errors.New("request body truncated")
)

// newErrorID returns a short random id that ties a 5xx answer to its log
// line without telling the client anything about the failure.
func newErrorID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away mid-request (closed tab, cut upload): not a
		// failure of the node, and nobody reads an answer.
		s.log.Info("request abandoned by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		return
	}
	status, code, msg, field := statusOf(err)
	var id string
	if status >= 500 {
		id = newErrorID()
		msg += " (error id " + id + ")"
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "error_id", id, "err", err)
	} else {
		s.log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="communs"`)
	}
	var body apiError
	body.Error.Code, body.Error.Message, body.Error.Field, body.Error.ID = code, msg, field, id
	writeJSON(w, status, body)
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
