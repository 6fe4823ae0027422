// Package web is the node's HTTP edge: the JSON API under /api/v1, file and
// kit downloads under /r/, the admin API served on the data folder's Unix
// socket, and the HTML pages. It talks to node.Service only.
package web

import (
	"context"
	"fmt"
	"github.com/communs-numerique/communs/internal/bundle"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/communs-numerique/communs/catalogue"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/oaipmh"
)

// Options configures a Server.
type Options struct {
	// PublicURL is the node's external base URL, without a trailing slash.
	PublicURL string
	// Name is the hub's display name.
	Name   string
	Logger *slog.Logger
	// Indexer, when set, answers the admin API's index status and rebuild.
	Indexer *node.Indexer
	// Region and Description present the hub on the home and hub pages.
	Region      string
	Description string
	// SessionKey signs editor session cookies (LoadSessionKey); when empty a
	// random key is used and sessions end with the process.
	SessionKey []byte
	// ActorURL is this node's ActivityPub actor, linked from the home page.
	ActorURL string
	// Peers lists the hubs this node federates with; nil means none yet.
	Peers func(ctx context.Context) ([]PeerInfo, error)

	// Brand holds the hub's logo and banner (NewBrand); nil draws them
	// from the name.
	Brand *Brand
	// UploadIdleTimeout cuts an editor's upload when no byte arrives for
	// that long (deadlines.go); 0 means DefaultUploadIdleTimeout.
	UploadIdleTimeout time.Duration
	// Harvest, when set, is what the harvesting interfaces read (OAI-PMH
	// at /oai, the DCAT catalogue): internal/app passes storage/catalog.
	// They page past the API's limits and read the change feed, so they
	// get the catalog rather than the Service. Nil leaves them out.
	Harvest Harvest
	// BundleSigner signs the manifest of a collection's zip with the hub's
	// actor key (internal/bundle, docs/BUNDLES.md); nil answers 503 for
	// collection zips.
	BundleSigner bundle.Signer
}

// Harvest is the read-only catalog the harvesting interfaces need.
type Harvest interface {
	oaipmh.Catalog
	catalogue.Catalog
}

// Server holds the HTTP handlers.
type Server struct {
	logins *loginThrottle
	// reportLimit bounds anonymous reports per client address.
	reportLimit *rateLimiter
	svc         *node.Service
	publicURL   string
	name        string
	log         *slog.Logger
	indexer     *node.Indexer

	region, description string
	sessionKey          []byte
	secureCookies       bool
	actorURL            string
	peers               func(ctx context.Context) ([]PeerInfo, error)
	harvest             Harvest
	bundleSigner        bundle.Signer

	brand      Brand
	started    time.Time
	sitemapMax int // tests lower the URLs per sitemap file
	uploadIdle time.Duration
}

// New returns a Server for svc.
func New(svc *node.Service, opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Name == "" {
		opt.Name = "Communs"
	}
	if opt.UploadIdleTimeout <= 0 {
		opt.UploadIdleTimeout = DefaultUploadIdleTimeout
	}
	s := &Server{svc: svc, publicURL: strings.TrimRight(opt.PublicURL, "/"), name: opt.Name, log: opt.Logger, indexer: opt.Indexer,
		uploadIdle: opt.UploadIdleTimeout, harvest: opt.Harvest, bundleSigner: opt.BundleSigner,
		reportLimit: newRateLimiter(reportMaxPerWindow, reportWindow, reportMaxTracked)}
	s.initUI(opt)
	return s
}

type ctxKey int

const userKey ctxKey = 0

// socketAdmin is the principal of requests arriving on the admin socket:
// the socket's file mode already limits it to the node's system user.
var socketAdmin = node.User{Name: "admin-socket", Role: node.RoleAdmin}

// Handler serves the public node: pages, downloads and the JSON API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return s.middleware(s.validQuery(mux), false)
}

// AdminHandler serves the same routes plus /admin/v1, every request acting
// as an admin. Mount it only on the admin Unix socket.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	mux.HandleFunc("GET /admin/v1/users", s.api(s.adminListUsers))
	mux.HandleFunc("POST /admin/v1/users", s.api(s.adminAddUser))
	mux.HandleFunc("DELETE /admin/v1/users/{name}", s.api(s.adminRemoveUser))
	mux.HandleFunc("POST /admin/v1/users/{name}/tokens", s.api(s.adminNewToken))
	mux.HandleFunc("PUT /admin/v1/users/{name}/password", s.api(s.adminSetPassword))
	mux.HandleFunc("PUT /admin/v1/users/{name}/organisation", s.api(s.adminSetUserOrganisation))
	mux.HandleFunc("GET /admin/v1/resources/{id}/history", s.api(s.adminHistory))
	mux.HandleFunc("GET /admin/v1/index", s.api(s.adminIndexStatus))
	mux.HandleFunc("POST /admin/v1/index/rebuild", s.api(s.adminIndexRebuild))
	mux.HandleFunc("GET /admin/v1/reports", s.api(s.adminListReports))
	mux.HandleFunc("GET /admin/v1/reports/{id}", s.api(s.adminGetReport))
	mux.HandleFunc("POST /admin/v1/reports/{id}/close", s.api(s.adminCloseReport))
	mux.HandleFunc("POST /admin/v1/resources/{id}/adapt", s.api(s.adminAdapt))
	return s.middleware(s.validQuery(mux), true)
}

// routeMux is what routes register on: an *http.ServeMux when serving, a
// recorder in tests that compare the API routes with the OpenAPI document.
type routeMux interface {
	Handle(pattern string, handler http.Handler)
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

func (s *Server) routes(mux routeMux) {
	mux.HandleFunc("GET "+paths.APIOpenAPI, s.openAPIHandler())
	mux.HandleFunc("GET "+paths.APIResources, s.api(s.apiList))
	mux.HandleFunc("POST "+paths.APIResources, s.api(s.apiCreate))
	mux.HandleFunc("GET "+paths.APIResource, s.api(s.apiGet))
	mux.HandleFunc("GET "+paths.APIResourceHistory, s.api(s.apiHistory))
	mux.HandleFunc("PATCH "+paths.APIResource, s.api(s.apiPatch))
	mux.HandleFunc("DELETE "+paths.APIResource, s.api(s.apiDelete))
	mux.HandleFunc("PUT "+paths.APIResourceFile, s.api(s.apiPutFile))
	mux.HandleFunc("DELETE "+paths.APIResourceFile, s.api(s.apiDeleteFile))
	mux.HandleFunc("POST "+paths.APIResourceReports, s.api(s.apiReport))
	mux.HandleFunc("POST "+paths.APIResourceShare, s.api(s.apiShare(s.resourceShares())))
	mux.HandleFunc("DELETE "+paths.APIResourceShare, s.api(s.apiUnshare(s.resourceShares())))
	mux.HandleFunc("POST "+paths.APIResourceAdapt, s.api(s.apiAdapt))
	mux.HandleFunc("GET "+paths.APILicenses, s.apiLicenses)
	mux.HandleFunc("GET "+paths.APISearch, s.api(s.apiSearch))
	s.organisationRoutes(mux)
	s.collectionRoutes(mux)
	mux.HandleFunc("GET "+paths.API, s.apiNotFound)
	mux.HandleFunc("GET "+paths.File, s.fileAnswer(s.download))
	mux.HandleFunc("GET "+paths.Resource, s.page(s.resourcePage))
	mux.HandleFunc("GET /{$}", s.page(s.homePage))
	if m, ok := mux.(*http.ServeMux); ok { // the HTML pages and harvesting interfaces are not part of the API
		if s.harvest != nil {
			oai := oaipmh.New(oaipmh.Config{Catalog: s.harvest, PublicURL: s.publicURL, Name: s.name, Logger: s.log})
			m.Handle("GET "+paths.OAI, oai)
			m.Handle("POST "+paths.OAI, oai)
			m.Handle("GET "+paths.Catalogue, catalogue.New(catalogue.Config{Catalog: s.harvest, PublicURL: s.publicURL, Name: s.name,
				Description: s.description, Logger: s.log, Label: func(key string) string { return translate("fr", key) }}))
		}
		s.seoRoutes(m)
		s.uiRoutes(m)
	}
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, fmt.Errorf("no API route %s %s: %w", r.Method, r.URL.Path, node.ErrNotFound))
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom keeps net/http's sendfile path for downloads from disk: without
// it io.Copy sees only Write and copies every byte through user space.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

func (s *Server) middleware(next http.Handler, admin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h := sw.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.writeError(sw, r, fmt.Errorf("panic: %v", v))
				}
			}
			s.log.Debug("http", "method", r.Method, "path", r.URL.Path, "status", sw.status, "bytes", sw.bytes, "ms", time.Since(start).Milliseconds())
		}()
		if admin {
			r = r.WithContext(context.WithValue(r.Context(), userKey, socketAdmin))
		}
		next.ServeHTTP(sw, r)
	})
}

// user returns the authenticated user, from the admin socket or a bearer
// token, or an ErrUnauthorized error.
func (s *Server) user(r *http.Request) (node.User, error) {
	if u, ok := r.Context().Value(userKey).(node.User); ok {
		return u, nil
	}
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || tok == "" {
		return node.User{}, fmt.Errorf("this action needs an API token: send the header Authorization: Bearer TOKEN (an admin creates one with `communs token new NAME`): %w", node.ErrUnauthorized)
	}
	return s.svc.Authenticate(r.Context(), strings.TrimSpace(tok))
}

// editor authenticates and requires the right to publish.
func (s *Server) editor(r *http.Request) (node.User, error) {
	u, err := s.user(r)
	if err != nil {
		return u, err
	}
	if !node.CanEdit(u) {
		return u, fmt.Errorf("user %q may not publish: role %q, editor or admin needed: %w", u.Name, u.Role, node.ErrForbidden)
	}
	return u, nil
}

func (s *Server) admin(r *http.Request) (node.User, error) {
	u, err := s.user(r)
	if err != nil {
		return u, err
	}
	if u.Role != node.RoleAdmin {
		return u, fmt.Errorf("admin role needed: %w", node.ErrForbidden)
	}
	return u, nil
}

func (s *Server) resourceURL(id string) string { return paths.Base(s.publicURL).Resource(id) }

func (s *Server) fileURL(id, name string) string {
	return paths.Base(s.publicURL).File(id, name)
}
