// Package httperr is the one table from errors to HTTP answers, shared by
// every HTTP surface of the node: the JSON API and the admin socket
// (web, federation's peer commands), the HTML pages, and what
// ActivityPub peers read (federation). node's sentinels and
// ValidationError, and the few errors only an HTTP edge can see (a
// truncated or slow body, an unsupported content type), map to a status, a
// stable code and a message the client may read. A 5xx never shows its
// error: the answer carries a generic text and an id that the one log line
// of the failure carries too (Resolve).
//
// Like Caddy's HandlerError and GoToSocial's gtserror.WithCode: the error
// text is for the log, Answer.Message for the client.
package httperr

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"

	"github.com/communs-numerique/communs/node"
)

// Errors only an HTTP edge sees. Wrap them with the reason for the client:
// fmt.Errorf("send JSON ...: %w", httperr.ErrUnsupportedType).
var (
	ErrUnsupportedType = errors.New("unsupported content type")
	ErrBadRequest      = errors.New("bad request")
	// ErrTruncatedBody marks a request body that ended early: the client cut
	// the connection or sent a multipart body without its closing boundary.
	ErrTruncatedBody = errors.New("request body truncated")
	// ErrTimeout is a request body cut by its deadline.
	ErrTimeout = errors.New("request body too slow")
)

// Public texts of the answers that hide their error.
const (
	MsgInternal    = "internal error; the node's log has the details"
	MsgUnavailable = "storage or search is unavailable right now; nothing was changed, try again in a moment"
	msgTruncated   = "the request body ended before the announced end (connection cut or truncated multipart); nothing was stored, send it again"
)

// Answer is what a client reads of a failure.
type Answer struct {
	Status int
	// Code is stable and machine-readable ("not_found", "license_refused").
	Code string
	// Message is safe to show: the error's own words for a 4xx, a generic
	// text (with the id) for a 5xx.
	Message string
	// Field names the input at fault, for a validation error.
	Field string
	// ID ties a 5xx to its log line; empty for a 4xx.
	ID string
}

// Error gives an error what the table cannot infer: an adapter's own
// refusal with its status (a signature refused: 401), or a public text
// that replaces the error's words (a key fetch that failed: the peer reads
// "could not fetch the signing key", the log gets the resolver's error).
// Zero fields fall back to the table's classification of Err.
type Error struct {
	Status int
	Code   string
	// Public, when set, is what the client reads instead of Err's text.
	Public string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Err == nil:
		return e.Public
	case e.Public == "" || e.Public == e.Err.Error():
		return e.Err.Error()
	}
	return e.Public + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Status returns err answered with status (a 4xx keeps err's words).
func Status(status int, err error) error { return &Error{Status: status, Err: err} }

// Hide returns err answered with the words public instead of its own.
func Hide(err error, public string) error { return &Error{Public: public, Err: err} }

// Classify is the table. Anything it does not know is a 500.
func Classify(err error) Answer {
	if e := find(err, func(e *Error) bool { return e.Status != 0 || e.Code != "" }); e != nil {
		a := classify(e.Err)
		if e.Status != 0 {
			a.Status = e.Status
			a.Code = codeOf(e.Status)
		}
		if e.Code != "" {
			a.Code = e.Code
		}
		a.Message = message(a.Status, err)
		return a
	}
	a := classify(err)
	if a.Status < 500 && a.Message == "" {
		a.Message = message(a.Status, err)
	}
	return a
}

func classify(err error) Answer {
	var ve *node.ValidationError
	switch {
	case err == nil:
	case errors.As(err, &ve):
		return Answer{Status: http.StatusBadRequest, Code: ve.Code, Field: ve.Field}
	case errors.Is(err, ErrTruncatedBody):
		return Answer{Status: http.StatusBadRequest, Code: "truncated_body", Message: msgTruncated}
	case errors.Is(err, node.ErrInvalid):
		// A plain ErrInvalid comes from an adapter refusing an input (a page
		// cursor this node never issued, a malformed digest): the client's
		// mistake, not the node's.
		return Answer{Status: http.StatusBadRequest, Code: "invalid"}
	case errors.Is(err, node.ErrNotFound):
		return Answer{Status: http.StatusNotFound, Code: "not_found"}
	case errors.Is(err, node.ErrConflict):
		return Answer{Status: http.StatusConflict, Code: "conflict"}
	case errors.Is(err, node.ErrTooLarge):
		return Answer{Status: http.StatusRequestEntityTooLarge, Code: "too_large"}
	case errors.Is(err, node.ErrUnauthorized):
		return Answer{Status: http.StatusUnauthorized, Code: "unauthorized"}
	case errors.Is(err, node.ErrForbidden):
		return Answer{Status: http.StatusForbidden, Code: "forbidden"}
	case errors.Is(err, node.ErrTooMany):
		return Answer{Status: http.StatusTooManyRequests, Code: "too_many_requests"}
	case errors.Is(err, node.ErrUnavailable):
		return Answer{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: MsgUnavailable}
	case errors.Is(err, ErrUnsupportedType):
		return Answer{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type"}
	case errors.Is(err, ErrTimeout):
		return Answer{Status: http.StatusRequestTimeout, Code: "timeout"}
	case errors.Is(err, ErrBadRequest):
		return Answer{Status: http.StatusBadRequest, Code: "bad_request"}
	}
	return Answer{Status: http.StatusInternalServerError, Code: "internal", Message: MsgInternal}
}

// codeOf names a status given explicitly (Status).
func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestTimeout:
		return "timeout"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusBadGateway:
		return "bad_gateway"
	}
	if status >= 500 {
		return "internal"
	}
	return "refused"
}

// message is what a client reads: the public words of an Error, nothing
// of a 5xx's error, else the error's own text (the refusals of the node
// and its adapters are written for the client).
func message(status int, err error) string {
	if public := publicOf(err); public != "" {
		return public
	}
	switch {
	case status == http.StatusServiceUnavailable:
		return MsgUnavailable
	case status >= 500:
		return MsgInternal
	case errors.Is(err, ErrTruncatedBody):
		return msgTruncated
	}
	return err.Error()
}

// publicOf returns the public words of the outermost Error in err's tree
// that has some: Status(401, Hide(err, "could not fetch the key")) reads
// "could not fetch the key".
func publicOf(err error) string {
	if e := find(err, func(e *Error) bool { return e.Public != "" }); e != nil {
		return e.Public
	}
	return ""
}

// find returns the first Error of err's tree (depth first, as errors.As
// walks it) for which ok holds.
func find(err error, ok func(*Error) bool) *Error {
	for err != nil {
		if e, is := err.(*Error); is && ok(e) {
			return e
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				if e := find(inner, ok); e != nil {
					return e
				}
			}
			return nil
		default:
			return nil
		}
	}
	return nil
}

// Abandoned reports whether err only says that the client went away
// (closed tab, cut upload): not a failure of the node, and nobody reads an
// answer.
func Abandoned(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) && r.Context().Err() != nil
}

// Resolve classifies err for the request r and logs it once: a refusal
// (4xx) at Info, a failure (5xx) at Error with a new id that the answer
// carries too, in Answer.ID and at the end of Answer.Message. It returns
// false, after a quiet log line, when the client went away: answer nothing.
func Resolve(log *slog.Logger, r *http.Request, err error) (Answer, bool) {
	if Abandoned(r, err) {
		log.Info("request abandoned by the client", "method", r.Method, "path", r.URL.Path, "err", err)
		return Answer{}, false
	}
	a := Classify(err)
	if a.Status >= 500 {
		a.ID = NewID()
		a.Message += " (error id " + a.ID + ")"
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", a.Status, "error_id", a.ID, "err", err)
	} else {
		log.Info("request refused", "method", r.Method, "path", r.URL.Path, "status", a.Status, "err", err)
	}
	return a, true
}

// NewID returns a short random id that ties a 5xx answer to its log line
// without telling the client anything about the failure.
func NewID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Body is the JSON error body of the API, the admin socket and the
// federation's refusals: {"error": {"code", "message", "field", "id"}}.
type Body struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
		// ID names a server-side failure (5xx): the log line of the failure
		// carries the same id, so an admin finds the detail a user reports.
		ID string `json:"id,omitempty"`
	} `json:"error"`
}

// JSON returns a's JSON body.
func (a Answer) JSON() Body {
	var b Body
	b.Error.Code, b.Error.Message, b.Error.Field, b.Error.ID = a.Code, a.Message, a.Field, a.ID
	return b
}

// Sentinel is the table read backwards, for clients of the API and the
// admin socket: the node error an answer's status stands for, so a caller
// branches with errors.Is as if it ran in the node. Nil for other statuses.
func Sentinel(status int) error {
	switch status {
	case http.StatusBadRequest:
		return node.ErrInvalid
	case http.StatusUnauthorized:
		return node.ErrUnauthorized
	case http.StatusForbidden:
		return node.ErrForbidden
	case http.StatusNotFound:
		return node.ErrNotFound
	case http.StatusConflict:
		return node.ErrConflict
	case http.StatusRequestEntityTooLarge:
		return node.ErrTooLarge
	case http.StatusServiceUnavailable:
		return node.ErrUnavailable
	case http.StatusTooManyRequests:
		return node.ErrTooMany
	}
	return nil
}
