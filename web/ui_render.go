package web

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

//go:embed static
var staticFS embed.FS

// uiCSP allows only this origin's own stylesheet and script: no inline
// script, no inline style, nothing from a CDN. JSON-LD blocks are data, not
// script, so script-src does not apply to them.
const uiCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// uiPage is what every template receives: the page's own data in Data and
// what the layout needs (language, hub, session, language switch).
type uiPage struct {
	Lang     string
	Title    string
	Nav      string
	Hub      hubInfo
	Path     string
	Switch   []langLink
	User     *node.User
	CSRF     string
	Actor    string
	CSS, JS  string
	Status   int
	Data     any
	NoRobots bool
	// Meta is the description, canonical URL and preview card.
	Meta pageMeta
}

type hubInfo struct {
	Name, Region, Description, Slug string
}

type langLink struct {
	Lang, Label, URL string
}

// T translates a catalog key into the page's language.
func (p *uiPage) T(key string, args ...any) string { return translate(p.Lang, key, args...) }

// N picks the plural form of key for n: French counts 0 and 1 as singular,
// English only 1.
func (p *uiPage) N(key string, n int) string {
	one := n == 1 || (p.Lang == "fr" && n == 0)
	if one {
		return p.T(key+".one", n)
	}
	return p.T(key+".other", n)
}

// Label names a vocabulary value (kind, theme, audience, level, language,
// licence) in the page's language; values outside the vocabulary, such as a
// peer's hub slug, show as they are.
func (p *uiPage) Label(facet, value string) string {
	if facet == "license" {
		if l, ok := node.LookupLicense(value); ok {
			return l.Short
		}
		return value
	}
	key := facet + "." + value
	if hasKey(p.Lang, key) {
		return p.T(key)
	}
	return value
}

// LicenceLabel is the licence's full name in the page's language.
func (p *uiPage) LicenceLabel(id string) string {
	l, ok := node.LookupLicense(id)
	switch {
	case !ok:
		return id
	case p.Lang == "en" && l.LabelEN != "":
		return l.LabelEN
	}
	return l.Label
}

func (p *uiPage) Date(t time.Time) string { return formatDate(p.Lang, t) }
func (p *uiPage) Day(s string) string     { return formatDay(p.Lang, s) }
func (p *uiPage) Size(n int64) string     { return humanSize(p.Lang, n) }

var uiFuncs = template.FuncMap{
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
	// resourcePath is the link to a resource page, built where every route is.
	"resourcePath": paths.ResourcePath,
	// items hands a resource list and the page to the shared list template.
	"items": func(p *uiPage, rs []node.Resource) any {
		return struct {
			P     *uiPage
			Items []node.Resource
		}{p, rs}
	},
}

var (
	uiOnce      sync.Once
	uiTemplates map[string]*template.Template
	uiAssets    map[string]string // file name -> versioned URL
)

// loadUI parses every page with the layout once; templates are embedded, so
// a parse error is a bug caught by the first test, not a runtime condition.
func loadUI() {
	uiTemplates = map[string]*template.Template{}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, f := range files {
		name := path.Base(f)
		if name == "layout.html" {
			continue
		}
		uiTemplates[name] = template.Must(template.New(name).Funcs(uiFuncs).ParseFS(templateFS, "templates/layout.html", f))
	}
	uiAssets = map[string]string{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, _ := staticFS.ReadFile("static/" + e.Name())
		sum := sha256.Sum256(b)
		uiAssets[e.Name()] = "/static/" + e.Name() + "?v=" + hex.EncodeToString(sum[:6])
	}
}

// newPage fills what the layout needs for this request.
func (s *Server) newPage(w http.ResponseWriter, r *http.Request, nav, titleKey string, data any) *uiPage {
	uiOnce.Do(loadUI)
	lang := pickLang(r)
	p := &uiPage{Lang: lang, Nav: nav, Hub: s.hubInfo(), Path: r.URL.RequestURI(), Data: data,
		CSS: uiAssets["style.css"], JS: uiAssets["app.js"]}
	if titleKey != "" {
		p.Title = p.T(titleKey)
	}
	p.Meta = pageMeta{Description: metaDescription(cmp.Or(s.description, p.T("home.description"))),
		Canonical: s.canonicalURL(r), Type: "website", Image: s.publicURL + BannerPath, Locale: ogLocales[lang]}
	for _, l := range uiLangs {
		if l != lang {
			p.Switch = append(p.Switch, langLink{Lang: l, Label: translate(l, "lang.name"),
				URL: "/langue/" + l + "?retour=" + url.QueryEscape(p.Path)})
		}
	}
	sess := s.liveSession(r)
	p.CSRF = s.csrfToken(sess)
	if sess.User != "" {
		u := node.User{Name: sess.User, Role: sess.Role}
		p.User = &u
	}
	return p
}

func (s *Server) hubInfo() hubInfo {
	return hubInfo{Name: s.name, Region: s.region, Description: s.description, Slug: s.svc.Hub()}
}

// renderPage writes a page. It renders into a buffer first so a template
// error becomes a clean 500 instead of half a page.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, p *uiPage) {
	uiOnce.Do(loadUI)
	t, ok := uiTemplates[name]
	if !ok {
		s.plainError(w, r, fmt.Errorf("unknown page template %q", name))
		return
	}
	p.Status = status
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.plainError(w, r, fmt.Errorf("render page %s: %w", name, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", uiCSP)
	h.Set("Content-Language", p.Lang)
	h.Set("Vary", "Accept-Language, Cookie")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorInfo is what an error page explains: what happened, what to do.
type errorInfo struct {
	Key    string // catalog prefix: error.notfound, error.unavailable, ...
	Detail string // an extra sentence in the page's language, optional
	ID     string // a 5xx's error id, also in the log line
	// Owner explains an ownership refusal (ownerSentence).
	Owner *node.OwnerError
}

// uiError renders the error page matching err.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, err error) {
	a, ok := httperr.Resolve(s.log, r, err)
	if !ok {
		return
	}
	key := "error.internal"
	switch a.Status {
	case http.StatusNotFound:
		key = "error.notfound"
	case http.StatusForbidden:
		key = "error.forbidden"
	case http.StatusUnauthorized:
		key = "error.unauthorized"
	case http.StatusServiceUnavailable:
		key = "error.unavailable"
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusConflict, http.StatusRequestTimeout:
		key = "error.badrequest"
	}
	s.errorPage(w, r, a.Status, errorInfo{Key: key, ID: a.ID, Owner: ownerOf(err)})
}

// plainError answers err in plain text, for when the page templates are
// what failed.
func (s *Server) plainError(w http.ResponseWriter, r *http.Request, err error) {
	if a, ok := httperr.Resolve(s.log, r, err); ok {
		http.Error(w, a.Message, a.Status)
	}
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, info errorInfo) {
	p := s.newPage(w, r, "", info.Key+".title", nil)
	if info.Owner != nil {
		info.Detail = ownerSentence(p, info.Owner)
	}
	p.Data = info
	p.NoRobots = true
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "10")
	}
	s.renderPage(w, r, status, "error.html", p)
}

// notFoundPage answers every path no route claims.
func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		s.apiNotFound(w, r)
		return
	}
	s.errorPage(w, r, http.StatusNotFound, errorInfo{Key: "error.notfound"})
}

// staticFile serves the embedded stylesheet and script. A versioned URL
// never changes content, so browsers may keep it for a year.
func (s *Server) staticFile(w http.ResponseWriter, r *http.Request) {
	uiOnce.Do(loadUI)
	name := r.PathValue("name")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		s.notFoundPage(w, r)
		return
	}
	h := w.Header()
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		h.Set("Content-Type", ct)
	}
	if v := r.URL.Query().Get("v"); v != "" && uiAssets[name] == "/static/"+name+"?v="+v {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "public, max-age=300")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

// isUnavailable tells a storage or search outage from other failures.
func isUnavailable(err error) bool { return errors.Is(err, node.ErrUnavailable) }
