package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Input checks at the HTTP edge. Invalid UTF-8 is refused before anything
// decodes it: encoding/json and others silently turn bad bytes into U+FFFD,
// so a damaged request would otherwise be stored as damaged text.

// validUTF8Values refuses a parameter name or value that is not UTF-8.
func validUTF8Values(v url.Values) error {
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !utf8.ValidString(name) {
			return &node.ValidationError{Field: "query", Code: "invalid_utf8", Rule: "a parameter name is not valid UTF-8; encode text as UTF-8"}
		}
		for _, val := range v[name] {
			if !utf8.ValidString(val) {
				return &node.ValidationError{Field: name, Code: "invalid_utf8", Rule: "not valid UTF-8; encode text as UTF-8"}
			}
		}
	}
	return nil
}

// validQuery refuses, on every route, a query string that does not parse or
// carries invalid UTF-8, naming the parameter.
func (s *Server) validQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// OAI-PMH answers a bad argument with its own badArgument error, in
		// XML, as harvesters expect; it checks its arguments itself.
		if r.URL.RawQuery != "" && r.URL.Path != paths.OAI {
			v, err := url.ParseQuery(r.URL.RawQuery)
			if err == nil {
				err = validUTF8Values(v)
			} else {
				err = &node.ValidationError{Field: "query", Code: "invalid", Rule: "the query string is malformed (a bad %-escape or a ';')"}
			}
			if err != nil {
				s.refuse(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// refuse answers a 4xx in the caller's form: the error page for a person,
// JSON for the API and scripts.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.writeError(w, r, err)
		return
	}
	s.downloadError(w, r, err)
}

// validJSONText refuses a JSON document that is not UTF-8 or whose strings
// hold a \u escape of a lone UTF-16 surrogate: the decoder would replace
// both with U+FFFD instead of failing.
func validJSONText(data []byte) error {
	if !utf8.Valid(data) {
		return fmt.Errorf("the JSON body is not valid UTF-8; encode text as UTF-8: %w", errInvalidUTF8)
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		i++
		if i >= len(data) || data[i] != 'u' {
			continue // \" \\ \n ... : the next byte is escaped, skip it
		}
		r, ok := hex4(data, i+1)
		if !ok {
			continue // the decoder reports the syntax error
		}
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return fmt.Errorf("the JSON body holds a lone low surrogate \\u%04X: %w", r, errInvalidUTF8)
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
				if lo, ok := hex4(data, i+3); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					i += 6
					continue
				}
			}
			return fmt.Errorf("the JSON body holds a lone high surrogate \\u%04X: %w", r, errInvalidUTF8)
		}
	}
	return nil
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

var errInvalidUTF8 = &node.ValidationError{Field: "body", Code: "invalid_utf8", Rule: "must be valid UTF-8 text"}

// readBounded reads at most limit bytes of r; more is ErrTooLarge.
func readBounded(r io.Reader, limit int64, what string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, fmt.Errorf("%s larger than %d bytes: %w", what, limit, node.ErrTooLarge)
		}
		return nil, fmt.Errorf("read %s: %w", what, clientReadError(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s larger than %d bytes: %w", what, limit, node.ErrTooLarge)
	}
	return data, nil
}

// clientBody marks read errors of a request body as the client's: a body
// that ends before its announced length or its closing multipart boundary
// is a truncated upload (400), not a failure of the node (500).
type clientBody struct{ r io.Reader }

func (b clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = clientReadError(err)
	}
	return n, err
}

func clientReadError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || errors.Is(err, errTruncatedBody) || errors.Is(err, errBodyTimeout) {
		return err
	}
	return fmt.Errorf("%w: %w", errTruncatedBody, err)
}
