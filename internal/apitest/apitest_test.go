package apitest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that keeps failures instead of failing, so the
// validator's own verdicts can be checked.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/items/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-z]+$"}}],
      "get": {
        "parameters": [{"name": "n", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10}}],
        "responses": {
          "200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "required": ["id", "tags"], "additionalProperties": false,
            "properties": {"id": {"type": "string"}, "tags": {"type": ["array", "null"], "items": {"type": "string"}}}}}}},
          "400": {"description": "refused", "content": {"application/json": {"schema": {"type": "object", "required": ["error"]}}}}
        }
      }
    },
    "/items/{id}.zip": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "get": {"responses": {"200": {"description": "zip", "content": {"application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}}}}}}
    }
  }
}`

func TestValidatorVerdicts(t *testing.T) {
	var answer struct {
		sync.Mutex
		status int
		ct     string
		body   string
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer.Lock()
		defer answer.Unlock()
		w.Header().Set("Content-Type", answer.ct)
		w.WriteHeader(answer.status)
		io.WriteString(w, answer.body)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name, path, ct, body string
		status               int
		want                 string // substring of the single expected failure; "" for none
	}{
		{"conforming", "/items/abc?n=3", "application/json", `{"id":"abc","tags":null}`, 200, ""},
		{"3.1 type array", "/items/abc", "application/json", `{"id":"abc","tags":["a"]}`, 200, ""},
		{"missing field", "/items/abc", "application/json", `{"id":"abc"}`, 200, "does not match the document"},
		{"extra field", "/items/abc", "application/json", `{"id":"abc","tags":[],"x":1}`, 200, "does not match the document"},
		{"wrong type", "/items/abc", "application/json", `{"id":1,"tags":[]}`, 200, "does not match the document"},
		{"undocumented status", "/items/abc", "application/json", `{}`, 500, "does not match the document"},
		{"bad query accepted", "/items/abc?n=11", "application/json", `{"id":"abc","tags":[]}`, 200, "breaks the document"},
		{"bad query refused", "/items/abc?n=11", "application/json", `{"error":"n"}`, 400, ""},
		{"bad path value accepted", "/items/ABC", "application/json", `{"id":"abc","tags":[]}`, 200, "breaks the document"},
		{"suffix after a parameter", "/items/abc.zip", "application/zip", "PK\x03\x04", 200, ""},
		{"undocumented path", "/other", "application/json", `{}`, 200, "no path of the document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			v := New(rec, []byte(doc))
			answer.Lock()
			answer.status, answer.ct, answer.body = tc.status, tc.ct, tc.body
			answer.Unlock()
			resp, err := v.Client().Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			switch {
			case tc.want == "" && len(rec.errs) > 0:
				t.Fatalf("unexpected failure: %v", rec.errs)
			case tc.want != "" && (len(rec.errs) != 1 || !strings.Contains(rec.errs[0], tc.want)):
				t.Fatalf("want one failure containing %q, got %q", tc.want, rec.errs)
			}
		})
	}
}
