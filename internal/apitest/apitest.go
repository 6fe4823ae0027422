// Package apitest checks HTTP exchanges against the node's OpenAPI
// document: a Validator is an http.RoundTripper that validates each request
// and its answer with kin-openapi and fails the test on a mismatch, so every
// API test that goes through it also proves the document right.
package apitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

func init() {
	// Error pages for browsers are HTML; kin-openapi knows no decoder for it.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// Validator validates exchanges against one OpenAPI document.
type Validator struct {
	t      testing.TB
	Doc    *openapi3.T
	routes []route
	base   http.RoundTripper
	// Lenient lets requests to paths the document does not have (HTML
	// pages, federation) through unchecked, for tests that mix the API
	// with other routes. Whether every API route is documented is checked
	// elsewhere, by comparing the router with the document.
	Lenient bool

	mu   sync.Mutex
	seen map[string]map[int]bool // "METHOD path" -> statuses answered
}

type route struct {
	re     *regexp.Regexp
	params []string
	path   string
	item   *openapi3.PathItem
}

// New loads and validates an OpenAPI document; a document that does not
// validate fails the test at once.
func New(t testing.TB, doc []byte) *Validator {
	t.Helper()
	d, err := load(doc)
	if err != nil {
		t.Fatalf("%v", err)
	}
	v := &Validator{t: t, Doc: d, base: http.DefaultTransport, seen: map[string]map[int]bool{}}
	for path, item := range d.Paths.Map() {
		v.routes = append(v.routes, compile(path, item))
	}
	// The most specific template first, as OpenAPI wants: more literal
	// characters win, so /a/{x}.zip is tried before /a/{x}, /a/b before /a/{x}.
	literal := func(r route) int { return len(paramRe.ReplaceAllString(r.path, "")) }
	sort.Slice(v.routes, func(i, j int) bool {
		if li, lj := literal(v.routes[i]), literal(v.routes[j]); li != lj {
			return li > lj
		}
		return v.routes[i].path < v.routes[j].path
	})
	return v
}

// SetTransport sends the validated requests through rt instead of
// http.DefaultTransport (a test that dials from another loopback address).
func (v *Validator) SetTransport(rt http.RoundTripper) { v.base = rt }

// loaded caches parsed documents: many tests validate against the same one.
var loaded sync.Map // string(doc) -> *openapi3.T

func load(doc []byte) (*openapi3.T, error) {
	if d, ok := loaded.Load(string(doc)); ok {
		return d.(*openapi3.T), nil
	}
	d, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load OpenAPI document: %w", err)
	}
	if err := d.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("OpenAPI document does not validate: %w", err)
	}
	loaded.Store(string(doc), d)
	return d, nil
}

var paramRe = regexp.MustCompile(`\{([^}/]+)\}`)

// compile turns a path template such as /r/{id}.zip into a regexp over the
// escaped request path. kin-openapi's own routers either need gorilla/mux or
// do not handle a suffix after a parameter, and the matching is ten lines.
func compile(path string, item *openapi3.PathItem) route {
	r := route{path: path, item: item}
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range paramRe.FindAllStringSubmatchIndex(path, -1) {
		b.WriteString(regexp.QuoteMeta(path[last:m[0]]))
		b.WriteString(`([^/]+?)`)
		r.params = append(r.params, path[m[2]:m[3]])
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(path[last:]))
	b.WriteString("$")
	r.re = regexp.MustCompile(b.String())
	return r
}

// find returns the documented operation of a request and its path values.
func (v *Validator) find(req *http.Request) (*routers.Route, map[string]string, error) {
	for _, r := range v.routes {
		m := r.re.FindStringSubmatch(req.URL.EscapedPath())
		if m == nil {
			continue
		}
		op := r.item.GetOperation(req.Method)
		if op == nil {
			return nil, nil, fmt.Errorf("%s %s: the document has %s but no %s on it", req.Method, req.URL.Path, r.path, req.Method)
		}
		params := map[string]string{}
		for i, name := range r.params {
			val, err := url.PathUnescape(m[i+1])
			if err != nil {
				return nil, nil, fmt.Errorf("path parameter %s: %w", name, err)
			}
			params[name] = val
		}
		return &routers.Route{Spec: v.Doc, Path: r.path, PathItem: r.item, Method: req.Method, Operation: op}, params, nil
	}
	return nil, nil, fmt.Errorf("%s %s: no path of the document matches", req.Method, req.URL.Path)
}

// Client returns an HTTP client whose exchanges are validated. It does not
// follow redirects, so a documented 302 is seen as such.
func (v *Validator) Client() *http.Client {
	return &http.Client{Transport: v, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// bearer accepts a request that carries a bearer token: whether the token
// is good is the node's business, answered with 401 or 403.
func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	auth := in.RequestValidationInput.Request.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); !ok || tok == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// RoundTrip sends the request and checks both sides against the document:
//   - the answer must match the operation's response for its status (an
//     undocumented status is a mismatch);
//   - a request that breaks the document must be refused with a 4xx; a
//     request that follows it may still be refused (e.g. licence policy).
func (v *Validator) RoundTrip(req *http.Request) (*http.Response, error) {
	v.t.Helper()
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("apitest: read request body: %w", err)
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	rt, params, findErr := v.find(req)
	if findErr != nil && !v.Lenient {
		v.t.Errorf("apitest: %v", findErr)
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: bearer, IncludeResponseStatus: true, MultiError: true}
	var in *openapi3filter.RequestValidationInput
	var reqErr error
	if rt != nil {
		vreq := req.Clone(ctx)
		vreq.Body = io.NopCloser(bytes.NewReader(body))
		in = &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: rt, Options: opts}
		reqErr = openapi3filter.ValidateRequest(ctx, in)
	}

	resp, err := v.base.RoundTrip(req)
	if err != nil || rt == nil {
		return resp, err
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("apitest: read answer: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))

	what := fmt.Sprintf("%s %s -> %d", req.Method, req.URL.RequestURI(), resp.StatusCode)
	if reqErr != nil && (resp.StatusCode < 400 || resp.StatusCode >= 500) {
		v.t.Errorf("apitest: %s: the request breaks the document but the node answered %d:\n%v", what, resp.StatusCode, reqErr)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
	out.SetBodyBytes(data)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		v.t.Errorf("apitest: %s: the answer does not match the document:\n%v\nbody: %.600s", what, err, data)
	}
	v.mu.Lock()
	key := req.Method + " " + rt.Path
	if v.seen[key] == nil {
		v.seen[key] = map[int]bool{}
	}
	v.seen[key][resp.StatusCode] = true
	v.mu.Unlock()
	return resp, nil
}

// Operations lists the document's operations as "METHOD path", sorted.
func Operations(doc *openapi3.T) []string {
	var out []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

// Seen returns the statuses answered per operation so far.
func (v *Validator) Seen() map[string][]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string][]int{}
	for op, statuses := range v.seen {
		for s := range statuses {
			out[op] = append(out[op], s)
		}
		slices.Sort(out[op])
	}
	return out
}

// RequireCovered fails the test when a documented operation was never
// exercised through the validator.
func (v *Validator) RequireCovered(t testing.TB) {
	t.Helper()
	seen := v.Seen()
	for _, op := range Operations(v.Doc) {
		if len(seen[op]) == 0 {
			t.Errorf("apitest: documented operation %s was never exercised", op)
		}
	}
}
