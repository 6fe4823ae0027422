// Package oaipmh is the node's OAI-PMH 2.0 repository (/oai): the library
// and OER world's harvesting protocol, with unqualified Dublin Core
// (oai_dc). Like federation it is an edge that reads node's catalog.
//
// Only local resources are exposed: a remote copy belongs to its origin
// hub's repository, which a harvester asks directly. Records are listed
// newest created first, then the deletions of the change feed (reported
// status="deleted"). The catalog's change feed is never pruned by the node
// (storage/catalog.PruneChanges has no caller), so deletions are kept
// without time limit and Identify declares deletedRecord "persistent"; a
// node that starts pruning the feed must declare "transient" instead.
package oaipmh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Catalog is what the repository reads: the live resources, and the
// change feed for deletions. storage/catalog implements it; web mounts
// the repository on the catalog internal/app gives it.
type Catalog interface {
	Get(ctx context.Context, id string) (node.Resource, error)
	List(ctx context.Context, opt node.ListOptions) ([]node.Resource, string, error)
	Changes(ctx context.Context, after uint64, limit int) ([]node.Change, error)
	LastSeq(ctx context.Context) (uint64, error)
}

// Config configures the repository.
type Config struct {
	Catalog Catalog
	// PublicURL is the node's external base URL, without a trailing slash.
	PublicURL string
	// Name is the hub's display name (repositoryName, dc:publisher).
	Name string
	// AdminEmail answers Identify; empty means admin@HOST of PublicURL.
	AdminEmail string
	Logger     *slog.Logger
	// Now replaces the clock in tests.
	Now func() time.Time
}

// Handler serves GET and POST /oai.
type Handler struct {
	cat        Catalog
	baseURL    string
	publicURL  string
	host       string
	name       string
	adminEmail string
	log        *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	deleted *deletedIDs
}

const (
	formatDC        = "oai_dc"
	maxPostBody     = 64 << 10
	namespaceOAI    = "http://www.openarchives.org/OAI/2.0/"
	namespaceOAIDC  = "http://www.openarchives.org/OAI/2.0/oai_dc/"
	schemaOAI       = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
	schemaOAIDC     = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
	namespaceDC     = "http://purl.org/dc/elements/1.1/"
	xmlContentType  = "text/xml; charset=utf-8"
	granularity     = "YYYY-MM-DDThh:mm:ssZ"
	deletedRecord   = "persistent"
	protocolVersion = "2.0"
)

// New returns the repository handler.
func New(cfg Config) *Handler {
	h := &Handler{cat: cfg.Catalog, publicURL: strings.TrimRight(cfg.PublicURL, "/"), name: cfg.Name,
		adminEmail: cfg.AdminEmail, log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.name == "" {
		h.name = "Communs"
	}
	h.baseURL = h.publicURL + paths.OAI
	h.host = "localhost"
	if u, err := url.Parse(h.publicURL); err == nil && u.Hostname() != "" {
		h.host = strings.ToLower(u.Hostname())
	}
	if h.adminEmail == "" {
		domain := h.host
		if !strings.Contains(domain, ".") {
			// The schema wants a dotted domain; a hub on localhost has none.
			domain += ".invalid"
		}
		h.adminEmail = "admin@" + domain
	}
	return h
}

// ServeHTTP answers one protocol request. Protocol errors are 200 with an
// <error> element; only a method other than GET or POST is refused (405).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var args url.Values
	var perr *oaiError
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		args, perr = parseQuery(r.URL.RawQuery)
	case http.MethodPost:
		args, perr = h.postArgs(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "OAI-PMH answers GET and POST only", http.StatusMethodNotAllowed)
		return
	}
	var out bytes.Buffer
	x := &xw{b: &out}
	if perr == nil {
		perr = h.answer(r.Context(), x, args)
	}
	if perr != nil && perr.code == codeInternal {
		w.Header().Set("Retry-After", "60")
		http.Error(w, "Le dépôt OAI-PMH est momentanément indisponible ; réessayez plus tard. / The OAI-PMH repository is unavailable for now; retry later.", http.StatusServiceUnavailable)
		return
	}
	if perr != nil {
		out.Reset()
		h.writeError(x, args, perr)
	}
	w.Header().Set("Content-Type", xmlContentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(out.Bytes())
	}
}

// parseQuery refuses what url.ParseQuery would silently drop (bad escapes,
// semicolons), so a request is answered for exactly the arguments sent.
func parseQuery(raw string) (url.Values, *oaiError) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, errorf(codeBadArgument, "the arguments are not a well-formed query string")
	}
	return v, nil
}

func (h *Handler) postArgs(w http.ResponseWriter, r *http.Request) (url.Values, *oaiError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, errorf(codeBadArgument, "a POST request must send its arguments as application/x-www-form-urlencoded")
	}
	if r.URL.RawQuery != "" {
		return nil, errorf(codeBadArgument, "a POST request carries its arguments in the body only")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPostBody))
	if err != nil {
		return nil, errorf(codeBadArgument, "the request body is unreadable or larger than %d bytes", maxPostBody)
	}
	return parseQuery(string(body))
}

// answer writes the response of a legal request, or returns the protocol
// error to answer instead.
func (h *Handler) answer(ctx context.Context, x *xw, args url.Values) *oaiError {
	q, perr := parseArgs(args)
	if perr != nil {
		return perr
	}
	var err error
	switch q.verb {
	case "Identify":
		err = h.identify(ctx, x, q)
	case "ListMetadataFormats":
		err = h.listMetadataFormats(ctx, x, q)
	case "ListSets":
		err = h.listSets(x, q)
	case "GetRecord":
		err = h.getRecord(ctx, x, q)
	case "ListIdentifiers", "ListRecords":
		err = h.list(ctx, x, q)
	}
	var oe *oaiError
	if errors.As(err, &oe) {
		return oe
	}
	if err != nil {
		// Not the harvester's fault: the catalog failed. The protocol has
		// no code for it; the node logs the cause and asks to retry later
		// without saying what broke.
		h.log.Error("oai-pmh", "verb", q.verb, "err", err)
		return &oaiError{code: codeInternal}
	}
	return nil
}

// codeInternal marks a storage failure: answered 503 (the protocol has no
// error code for it), never for anything the harvester sent.
const codeInternal = "internal"

func (h *Handler) writeError(x *xw, args url.Values, e *oaiError) {
	x.open(h.now())
	x.request(h.baseURL, echoArgs(args, e.code))
	x.b.WriteString(`<error code="`)
	x.esc(e.code)
	x.b.WriteString(`">`)
	x.esc(e.msg)
	x.b.WriteString("</error>\n")
	x.close()
}

// echoArgs returns the arguments to echo in <request>: none after badVerb
// or badArgument (section 3.2), else the legal ones as sent.
func echoArgs(args url.Values, code string) map[string]string {
	if code == codeBadVerb || code == codeBadArgument || args == nil {
		return nil
	}
	q, perr := parseArgs(args)
	if perr != nil {
		return nil
	}
	out := map[string]string{"verb": q.verb}
	for k, v := range q.raw {
		out[k] = v
	}
	return out
}
