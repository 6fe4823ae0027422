package web_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web"
)

// headMeta reads the <head> of a page: meta name/property -> content, and
// link rel -> href (first of each).
func headMeta(t *testing.T, page string) map[string]string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "meta" || n.Data == "link") {
			a := map[string]string{}
			for _, at := range n.Attr {
				a[at.Key] = at.Val
			}
			key := ""
			switch {
			case n.Data == "meta" && a["name"] != "":
				key = a["name"]
			case n.Data == "meta" && a["property"] != "":
				key = a["property"]
			case n.Data == "link":
				key = "link:" + a["rel"]
			}
			val := a["content"]
			if n.Data == "link" {
				val = a["href"]
			}
			if _, seen := out[key]; key != "" && !seen {
				out[key] = val
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// saveCopy stores a resource as if received from another hub.
func saveCopy(t *testing.T, n *testnode.Node, origin, title string) node.Resource {
	t.Helper()
	r, err := n.Service.SaveRemote(context.Background(), node.Resource{ID: node.RemoteID(origin, "copie"), Origin: origin, Metadata: node.Metadata{Title: title,
		Summary: "Une copie venue d'ailleurs.", Kind: "practical-sheet", License: "CC0-1.0", Hub: "autre"}}, nil, node.Mirror{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type sitemapDoc struct {
	XMLName xml.Name
	URLs    []struct {
		Loc     string `xml:"loc"`
		LastMod string `xml:"lastmod"`
	} `xml:"url"`
	Sitemaps []struct {
		Loc string `xml:"loc"`
	} `xml:"sitemap"`
}

func getSitemap(t *testing.T, url string) sitemapDoc {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var d sitemapDoc
	if err := xml.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatalf("sitemap %s is not XML: %v", url, err)
	}
	return d
}

// TestRobotsAndSitemap: robots.txt keeps crawlers out of the API and the
// editor and names the sitemap; the sitemap lists every local resource
// with its lastmod, the home and browse pages, and no copy from another
// hub (whose canonical page is the origin's).
func TestRobotsAndSitemap(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	var ids []string
	for i := range 5 {
		ids = append(ids, publish(t, n, strings.Replace(kitJSON, "Créer sa première", "Kit "+string(rune('A'+i))+" : créer sa", 1))["id"].(string))
	}
	copyRes := saveCopy(t, n, "https://hub-b.example/r/copie", "Copie distante")
	ctx := context.Background()
	if _, err := n.Service.AddOrganisation(ctx, node.Organisation{Slug: "tilleuls", Name: "Centre social Les Tilleuls"}); err != nil {
		t.Fatal(err)
	}
	coll, err := n.Service.CreateCollection(ctx, node.Collection{Title: "Parcours e-mail", Items: []node.CollectionItem{{Resource: ids[0]}}})
	if err != nil {
		t.Fatal(err)
	}
	remoteColl, err := n.Service.SaveRemoteCollection(ctx, node.Collection{Title: "Parcours visio", Hub: "hub-b", Origin: "https://hub-b.example/collections/visio",
		Items: []node.CollectionItem{{Resource: copyRes.ID}}})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, n.URL)
	resp, body := b.get("/robots.txt")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("robots.txt: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{"User-agent: *", "Disallow: /api/", "Disallow: /admin", "Disallow: /editeur", "Disallow: /connexion", "Sitemap: " + n.URL + "/sitemap.xml"} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("robots.txt lacks %q:\n%s", want, body)
		}
	}

	d := getSitemap(t, n.URL+"/sitemap.xml")
	if d.XMLName.Local != "urlset" {
		t.Fatalf("small catalog: want a urlset, got %s", d.XMLName.Local)
	}
	got := map[string]string{}
	for _, u := range d.URLs {
		got[u.Loc] = u.LastMod
	}
	for _, id := range ids {
		mod, ok := got[n.URL+"/r/"+id]
		if !ok {
			t.Errorf("sitemap lacks local resource %s", id)
			continue
		}
		if _, err := time.Parse(time.RFC3339, mod); err != nil {
			t.Errorf("resource %s: lastmod %q is not a W3C datetime", id, mod)
		}
	}
	for _, p := range []string{"/", "/ressources", "/collections", "/organisations/tilleuls", "/collections/" + coll.ID} {
		if _, ok := got[n.URL+p]; !ok {
			t.Errorf("sitemap lacks %s", p)
		}
	}
	if mod := got[n.URL+"/collections/"+coll.ID]; mod != coll.Updated.UTC().Format(time.RFC3339) {
		t.Errorf("collection's lastmod %q, want %s", mod, coll.Updated.UTC().Format(time.RFC3339))
	}
	if _, ok := got[n.URL+"/collections/"+remoteColl.ID]; ok {
		t.Errorf("sitemap lists the collection copy %s", remoteColl.ID)
	}
	if _, ok := got[n.URL+"/r/"+copyRes.ID]; ok {
		t.Errorf("sitemap lists the remote copy %s", copyRes.ID)
	}
	for loc := range got {
		if strings.Contains(loc, "hub-b.example") {
			t.Errorf("sitemap lists a URL of another hub: %s", loc)
		}
	}
}

// TestSitemapIndex: past the per-file limit the sitemap becomes an index
// whose parts, together, list every local resource exactly once.
func TestSitemapIndex(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	want := map[string]bool{}
	for i := range 7 {
		id := publish(t, n, strings.Replace(kitJSON, "Créer sa première", "Kit "+string(rune('A'+i))+" : créer sa", 1))["id"].(string)
		want[n.URL+"/r/"+id] = true
	}
	saveCopy(t, n, "https://hub-b.example/r/copie", "Copie distante")
	srv := web.New(n.Service, web.Options{PublicURL: n.URL})
	web.SetSitemapMax(srv, 3)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	idx := getSitemap(t, ts.URL+"/sitemap.xml")
	if idx.XMLName.Local != "sitemapindex" || len(idx.Sitemaps) != 4 {
		t.Fatalf("7 resources by 3: want an index of 4 parts (pages + 3), got %s with %d", idx.XMLName.Local, len(idx.Sitemaps))
	}
	seen := map[string]int{}
	for _, sm := range idx.Sitemaps {
		part := getSitemap(t, strings.Replace(sm.Loc, n.URL, ts.URL, 1))
		// 3 resources a part; the pages' part holds the five fixed pages
		// (home, browse, guide, hub, collections), which the real limit
		// of 50,000 always fits.
		if len(part.URLs) > 5 {
			t.Errorf("part %s has %d URLs, over the limit", sm.Loc, len(part.URLs))
		}
		for _, u := range part.URLs {
			seen[u.Loc]++
		}
	}
	for u := range want {
		if seen[u] != 1 {
			t.Errorf("%s listed %d times across the parts", u, seen[u])
		}
	}
	if seen[n.URL+"/"] != 1 {
		t.Errorf("home page listed %d times", seen[n.URL+"/"])
	}
}

// TestCanonicalAndPreviewTags: every public page names its canonical URL
// and carries a description and the OpenGraph and Twitter card tags; a
// resource page describes the resource; a copy from another hub names the
// origin's page as canonical.
func TestCanonicalAndPreviewTags(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true})
	kit := publish(t, n, kitJSON)
	id := kit["id"].(string)
	origin := "https://hub-b.example/r/copie"
	cp := saveCopy(t, n, origin, "Copie distante")
	b := newBrowser(t, n.URL)
	for _, c := range []struct {
		path, lang, canonical, desc, locale, ogType string
	}{
		{"/", "fr", n.URL + "/", "Tutoriels, kits", "fr_FR", "website"},
		{"/", "en", n.URL + "/", "Openly licensed", "en_GB", "website"},
		{"/r/" + id, "fr", n.URL + "/r/" + id, "Pas à pas.", "fr_FR", "article"},
		{"/r/" + cp.ID, "fr", origin, "Une copie venue d'ailleurs.", "fr_FR", "article"},
		{"/recherche?q=adresse", "fr", n.URL + "/recherche?q=adresse", "Tutoriels", "fr_FR", "website"},
		{"/search?q=adresse", "en", n.URL + "/recherche?q=adresse", "Openly licensed", "en_GB", "website"},
		{"/ressources", "fr", n.URL + "/ressources", "Tutoriels", "fr_FR", "website"},
		{"/resources", "en", n.URL + "/ressources", "Openly licensed", "en_GB", "website"},
		{"/guide", "fr", n.URL + "/guide", "Tutoriels", "fr_FR", "website"},
		{"/hub", "fr", n.URL + "/hub", "Tutoriels", "fr_FR", "website"},
	} {
		b.lang = c.lang
		resp, body := b.get(c.path)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", c.path, resp.StatusCode)
		}
		m := headMeta(t, body)
		if m["link:canonical"] != c.canonical || m["og:url"] != c.canonical {
			t.Errorf("%s (%s): canonical %q, og:url %q, want %q", c.path, c.lang, m["link:canonical"], m["og:url"], c.canonical)
		}
		if !strings.HasPrefix(m["description"], c.desc) || m["og:description"] != m["description"] {
			t.Errorf("%s (%s): description %q, og:description %q, want it to start with %q", c.path, c.lang, m["description"], m["og:description"], c.desc)
		}
		if len([]rune(m["description"])) > 160 {
			t.Errorf("%s: description of %d characters, over 160", c.path, len([]rune(m["description"])))
		}
		if m["og:locale"] != c.locale || m["og:type"] != c.ogType || m["og:title"] == "" || m["twitter:card"] != "summary_large_image" {
			t.Errorf("%s (%s): og:locale %q og:type %q og:title %q twitter:card %q", c.path, c.lang, m["og:locale"], m["og:type"], m["og:title"], m["twitter:card"])
		}
		if m["og:image"] != n.URL+web.BannerPath || m["link:icon"] != "/favicon.svg" {
			t.Errorf("%s: og:image %q, icon %q", c.path, m["og:image"], m["link:icon"])
		}
	}
	b.lang = "fr"
	_, body := b.get("/r/" + id)
	if m := headMeta(t, body); m["og:title"] != "Créer sa première adresse e-mail" {
		t.Errorf("resource page og:title %q", m["og:title"])
	}
}

// TestFaviconAndPictures: the favicon, the logo and the banner answer
// images, drawn from the hub's name when none is given.
func TestFaviconAndPictures(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	b := newBrowser(t, n.URL)
	for _, c := range []struct{ path, ctype string }{
		{"/favicon.ico", "image/x-icon"}, {"/favicon.svg", "image/svg+xml"}, {web.LogoPath, "image/png"}, {web.BannerPath, "image/png"},
	} {
		resp, body := b.get(c.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype {
			t.Fatalf("%s: %d %s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if c.ctype == "image/png" {
			img, err := png.Decode(strings.NewReader(body))
			if err != nil {
				t.Fatalf("%s: not a PNG: %v", c.path, err)
			}
			if c.path == web.LogoPath && img.Bounds().Dx() != img.Bounds().Dy() {
				t.Errorf("logo is not square: %v", img.Bounds())
			}
		}
		if c.path == "/favicon.ico" && (!bytes.HasPrefix([]byte(body), []byte{0, 0, 1, 0}) || !strings.Contains(body, "\x89PNG")) {
			t.Errorf("favicon.ico is not an ICO holding a PNG")
		}
	}
}

// TestFirstRunHome: an empty node's home page tells the admin the three
// commands to start with, in French and English; one resource later it is
// gone.
func TestFirstRunHome(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	b := newBrowser(t, n.URL)
	for lang, want := range map[string][]string{
		"fr": {"Premiers pas", "communs user add NOM --role editor", "communs resource import DOSSIER", "make demo", "communs peer follow"},
		"en": {"Getting started", "communs user add NAME --role editor", "communs resource import DIR", "make demo", "communs peer follow"},
	} {
		b.lang = lang
		_, body := b.get("/")
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("empty node, %s home page lacks %q", lang, w)
			}
		}
	}
	publish(t, n, kitJSON)
	b.lang = "fr"
	_, body := b.get("/")
	if strings.Contains(body, "first-run") || strings.Contains(body, "communs user add") {
		t.Error("home page still shows the first-run advice once a resource exists")
	}
}

// TestBrandImageChecks: --logo and --banner files are recognised by their
// bytes, and refused when they are not PNG, JPEG or WebP or too large.
func TestBrandImageChecks(t *testing.T) {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 64, 32)))
	if img, err := web.CheckImage(buf.Bytes()); err != nil || img.Type != "image/png" {
		t.Fatalf("PNG refused: %v %+v", err, img.Type)
	}
	webp := append([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"), 0xff, 0x01, 0x00, 0x7f, 0x00, 0x00)
	if img, err := web.CheckImage(webp); err != nil || img.Type != "image/webp" {
		t.Fatalf("WebP refused: %v", err)
	}
	huge := append([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"), 0xff, 0xff, 0x00, 0x7f, 0x00, 0x00)
	for name, b := range map[string][]byte{
		"html":      []byte("<html><body>not an image</body></html>"),
		"svg":       []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`),
		"truncated": buf.Bytes()[:20],
		"huge webp": huge,
	} {
		if _, err := web.CheckImage(b); err == nil {
			t.Errorf("%s accepted as a logo", name)
		}
	}
}

// FuzzCheckImage: whatever the bytes of a --logo or --banner file, the
// check answers without panicking, and what it accepts is a PNG, JPEG or
// WebP within the size bounds.
func FuzzCheckImage(f *testing.F) {
	var buf bytes.Buffer
	png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 3, 2)))
	f.Add(buf.Bytes())
	f.Add(append([]byte("RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"), 0xff, 0x01, 0x00, 0x7f, 0x00, 0x00))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x2f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00\x00\x00\x00\x9d\x01\x2a\x10\x00\x10\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := web.CheckImage(b)
		if err == nil && img.Type != "image/png" && img.Type != "image/jpeg" && img.Type != "image/webp" {
			t.Fatalf("accepted %s", img.Type)
		}
	})
}

// TestInitials: the drawn avatar shows letters that tell hubs apart.
func TestInitials(t *testing.T) {
	for name, want := range map[string]string{"Hub Île-de-France": "IF", "Hub CoNumM": "CO", "Hub": "C", "": "C",
		"Les Assembleurs": "AS", "Hinaura": "HI", "日本": "C", "Hub 13": "13"} {
		if got := web.Initials(name); got != want {
			t.Errorf("initials(%q) = %q, want %q", name, got, want)
		}
	}
}
