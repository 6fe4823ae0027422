package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// What search engines and harvesters read: robots.txt, the sitemap, the
// favicon and the hub's pictures. The sitemap lists the local resources
// only: a copy received from another hub names the origin's page as its
// canonical URL, so the origin's sitemap is where it belongs (and its
// licence terms are the origin's to publish).

// sitemapMaxURLs is the sitemaps.org limit of URLs per file.
const sitemapMaxURLs = 50000

func (s *Server) seoRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /robots.txt", s.robots)
	mux.HandleFunc("GET "+paths.Sitemap, s.sitemap)
	mux.HandleFunc("GET "+paths.SitemapPart, s.sitemapPart)
	mux.HandleFunc("GET /favicon.ico", s.favicon)
	mux.HandleFunc("GET /favicon.svg", s.faviconSVG)
	mux.HandleFunc("GET "+LogoPath, func(w http.ResponseWriter, r *http.Request) { s.serveImage(w, r, s.brand.Logo) })
	mux.HandleFunc("GET "+BannerPath, func(w http.ResponseWriter, r *http.Request) { s.serveImage(w, r, s.brand.Banner) })
}

// robots lets crawlers read the pages and keeps them out of the API, the
// editor, the login form and the language switch (which only redirects).
func (s *Server) robots(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	fmt.Fprintf(w, "User-agent: *\nAllow: /\nDisallow: /api/\nDisallow: /admin\nDisallow: /editeur\nDisallow: /connexion\nDisallow: /deconnexion\nDisallow: /langue/\n\nSitemap: %s\n", s.publicURL+paths.Sitemap)
}

// sitemap serves one urlset while the local resources fit in one file,
// and a sitemap index otherwise, whose parts start at a catalog cursor.
// Both are streamed: the catalog is read page by page, never held whole.
func (s *Server) sitemap(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	limit := s.sitemapLimit()
	// The hub's own pages: home, browse, organisations and collections.
	fixed, err := s.sitemapPages(ctx, limit)
	if err != nil {
		s.sitemapError(w, r, err)
		return
	}
	// Find the cursors where each part of limit resources begins, reading
	// the catalog in pages that divide limit so that a page boundary falls
	// on each part boundary.
	page := listPage(limit)
	starts := []string{""}
	n, cursor := 0, ""
	for {
		rs, next, err := s.svc.List(ctx, node.ListOptions{After: cursor, Limit: page, Origin: "local"})
		if err != nil {
			s.sitemapError(w, r, err)
			return
		}
		n += len(rs)
		if next == "" {
			break
		}
		if n%limit == 0 {
			starts = append(starts, next)
		}
		cursor = next
	}
	bw := s.xmlStart(w)
	if n+len(fixed) <= limit {
		bw.WriteString(`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n")
		for _, u := range fixed {
			writeURL(bw, u.loc, u.mod)
		}
		s.writeResourceURLs(r, bw, "", limit)
		bw.WriteString("</urlset>\n")
		bw.Flush()
		return
	}
	bw.WriteString(`<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n")
	bw.WriteString("<sitemap><loc>" + xmlText(s.publicURL+paths.SitemapPart+"?partie=accueil") + "</loc></sitemap>\n")
	for _, after := range starts {
		bw.WriteString("<sitemap><loc>" + xmlText(s.publicURL+paths.SitemapPart+"?"+url.Values{"apres": {after}}.Encode()) + "</loc></sitemap>\n")
	}
	bw.WriteString("</sitemapindex>\n")
	bw.Flush()
}

// sitemapPart is one file of a sitemap index: limit resources after the
// cursor "apres", or the fixed pages.
func (s *Server) sitemapPart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bw := s.xmlStart(w)
	bw.WriteString(`<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">` + "\n")
	if q.Get("partie") == "accueil" {
		pages, err := s.sitemapPages(r.Context(), s.sitemapLimit())
		if err != nil {
			s.log.Warn("sitemap cut short", "err", err)
		}
		for _, u := range pages {
			writeURL(bw, u.loc, u.mod)
		}
	} else {
		s.writeResourceURLs(r, bw, q.Get("apres"), s.sitemapLimit())
	}
	bw.WriteString("</urlset>\n")
	bw.Flush()
}

// sitemapURL is one page of the sitemap and its last change (zero: none
// given).
type sitemapURL struct {
	loc string
	mod time.Time
}

// sitemapPages lists the hub's pages other than resources: the home and
// browse pages, the member organisations' pages and the local
// collections (a copy's canonical page is its origin's), at most limit in
// all so they fit in one file of the sitemap.
func (s *Server) sitemapPages(ctx context.Context, limit int) ([]sitemapURL, error) {
	var out []sitemapURL
	for _, p := range []string{"/", "/ressources", "/guide", "/hub", paths.Collections} {
		out = append(out, sitemapURL{loc: s.publicURL + p})
	}
	orgs, err := s.svc.Organisations(ctx)
	if err != nil {
		return out, err
	}
	for _, o := range orgs {
		if len(out) >= limit {
			return out, nil
		}
		out = append(out, sitemapURL{loc: paths.Base(s.publicURL).Organisation(o.Slug)})
	}
	for offset := 0; s.svc.KeepsCollections() && len(out) < limit; {
		cs, _, err := s.svc.ListCollections(ctx, node.ListCollectionsQuery{Origin: "local", Offset: offset, Limit: min(100, limit-len(out))})
		if err != nil {
			return out, err
		}
		for _, c := range cs {
			out = append(out, sitemapURL{loc: paths.Base(s.publicURL).Collection(c.ID), mod: c.Updated})
		}
		if len(cs) == 0 {
			break
		}
		offset += len(cs)
	}
	return out, nil
}

// listPage is the largest page the service serves (100) that divides
// limit.
func listPage(limit int) int {
	p := min(100, limit)
	for limit%p != 0 {
		p--
	}
	return p
}

func (s *Server) sitemapLimit() int {
	if s.sitemapMax > 0 {
		return s.sitemapMax
	}
	return sitemapMaxURLs
}

func (s *Server) xmlStart(w http.ResponseWriter) *bufio.Writer {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(xml.Header)
	return bw
}

// writeResourceURLs streams up to limit local resources after cursor. An
// error mid-way ends the file early (the status is already sent); the log
// says why.
func (s *Server) writeResourceURLs(r *http.Request, bw *bufio.Writer, cursor string, limit int) {
	n := 0
	for n < limit {
		rs, next, err := s.svc.List(r.Context(), node.ListOptions{After: cursor, Limit: min(listPage(limit), limit-n), Origin: "local"})
		if err != nil {
			s.log.Warn("sitemap cut short", "err", err)
			return
		}
		for _, res := range rs {
			writeURL(bw, s.resourceURL(res.ID), res.Updated)
			n++
		}
		if next == "" {
			return
		}
		cursor = next
	}
}

func writeURL(bw *bufio.Writer, loc string, mod time.Time) {
	bw.WriteString("<url><loc>" + xmlText(loc) + "</loc>")
	if !mod.IsZero() {
		bw.WriteString("<lastmod>" + mod.UTC().Format(time.RFC3339) + "</lastmod>")
	}
	bw.WriteString("</url>\n")
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func (s *Server) sitemapError(w http.ResponseWriter, r *http.Request, err error) {
	// A crawler retries a 503 later: whatever failed, the sitemap is
	// unavailable for now; the log line carries the id the answer shows.
	a, ok := httperr.Resolve(s.log, r, httperr.Status(http.StatusServiceUnavailable, err))
	if !ok {
		return
	}
	if isUnavailable(err) {
		w.Header().Set("Retry-After", "60")
	}
	http.Error(w, "sitemap unavailable, try again later (error id "+a.ID+")", a.Status)
}

func (s *Server) favicon(w http.ResponseWriter, r *http.Request) {
	s.serveImage(w, r, Image{Data: s.brand.favicon, Type: "image/x-icon"})
}

func (s *Server) faviconSVG(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	s.serveImage(w, r, Image{Data: []byte(s.brand.svg), Type: "image/svg+xml"})
}

func (s *Server) serveImage(w http.ResponseWriter, r *http.Request, img Image) {
	h := w.Header()
	h.Set("Content-Type", img.Type)
	h.Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, "", s.started, bytes.NewReader(img.Data))
}

// pageMeta is what the layout puts in <head> for previews and crawlers.
type pageMeta struct {
	Description string
	Canonical   string
	Type        string // og:type
	Image       string
	Locale      string
	Alternates  []langLink
}

// canonicalPath maps the English aliases onto the French paths, so both
// spellings of a page name one URL.
var canonicalPath = map[string]string{"/search": "/recherche", "/resources": "/ressources"}

// canonicalURL is the page's address on this node: public URL, French path,
// and the query parameters sorted so one page has one URL.
func (s *Server) canonicalURL(r *http.Request) string {
	p := r.URL.Path
	if c, ok := canonicalPath[p]; ok {
		p = c
	}
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	u := s.publicURL + p
	if len(keys) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

var ogLocales = map[string]string{"fr": "fr_FR", "en": "en_GB"}

// metaDescription trims a text to what result pages show (about 160
// characters), on a word boundary.
func metaDescription(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 160 {
		cut := string(r[:157])
		if i := strings.LastIndex(cut, " "); i > 80 {
			cut = cut[:i]
		}
		return cut + "…"
	}
	return s
}
