package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
	"github.com/communs-numerique/communs/web"
)

// browser is a cookie-keeping HTTP client that does not follow redirects,
// so tests see each 303 the way a browser receives it.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	lang string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	if b.lang != "" {
		req.Header.Set("Accept-Language", b.lang)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+path, nil)
	return b.do(req)
}

func (b *browser) postForm(path string, v url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// postMultipart sends fields in order, then the files, as a browser does.
func (b *browser) postMultipart(path string, fields [][2]string, files map[string][]byte) (*http.Response, string) {
	b.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	for name, data := range files {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page")
	}
	return m[1]
}

func wantStatus(t *testing.T, what string, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d; body:\n%.2000s", what, resp.StatusCode, status, body)
	}
}

func wantIn(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("%s: missing %q", what, p)
		}
	}
}

func wantNotIn(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if strings.Contains(body, p) {
			t.Errorf("%s: must not contain %q", what, p)
		}
	}
}

// serveWith runs a second handler on the test node's service, for options
// testnode does not set (region, actor, peers).
func serveWith(t *testing.T, n *testnode.Node, opt web.Options) string {
	if opt.PublicURL == "" {
		opt.PublicURL = n.URL
	}
	srv := httptest.NewServer(web.New(n.Service, opt).Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestUIHomeLanguagesAndFederationHooks(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true})
	ctx := context.Background()
	if _, err := n.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit smartphone Android", Kind: "workshop-kit", License: "CC-BY-4.0",
		Themes: []string{"smartphone"}, Audience: []string{"seniors"}}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, "index", func() bool { st, err := n.Indexer.Status(ctx); return err == nil && st.Backlog == 0 })

	base := serveWith(t, n, web.Options{Name: "Hub du Sud", Region: "Provence-Alpes-Côte d'Azur", Description: "Le hub <b>des</b> médiateurs du Sud."})
	b := newBrowser(t, base)
	resp, body := b.get("/")
	wantStatus(t, "home", resp, body, 200)
	wantIn(t, "home", body, `<html lang="fr">`, "<h1>Hub du Sud</h1>", "Région : Provence-Alpes-Côte d&#39;Azur",
		"Le hub &lt;b&gt;des&lt;/b&gt; médiateurs du Sud.", `role="search"`, `action="/recherche"`, `href="/guide"`,
		"Kits d&#39;atelier", `href="/recherche?kind=workshop-kit"`, `href="/recherche?audience=seniors"`, `href="/recherche?theme=smartphone"`,
		"Kit smartphone Android", "Aucun hub pour l&#39;instant.", `class="skip" href="#contenu"`, `<main id="contenu"`)
	wantNotIn(t, "home without actor", body, "application/activity+json")
	if strings.Count(body, "<h1") != 1 {
		t.Errorf("home: %d h1, want 1", strings.Count(body, "<h1"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q: want strict, no unsafe-*", csp)
	}

	// A browser asking for English gets English, then the visible switch
	// brings it back to French on the same page.
	b.lang = "en-GB,en;q=0.8"
	_, body = b.get("/recherche?q=kit")
	wantIn(t, "English search page", body, `<html lang="en">`, "Results for “kit”", `hreflang="fr"`)
	m := regexp.MustCompile(`href="(/langue/fr\?retour=[^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no switch to French on the English page")
	}
	resp, _ = b.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/recherche?q=kit" {
		t.Fatalf("switch: %d to %q, want 303 back to /recherche?q=kit", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = b.get("/recherche?q=kit")
	wantIn(t, "after the switch, French wins over Accept-Language", body, `<html lang="fr">`, "Résultats pour « kit »")
	for _, evil := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		resp, _ = b.get("/langue/en?retour=" + url.QueryEscape(evil))
		if loc := resp.Header.Get("Location"); loc != "/" {
			t.Errorf("switch with retour=%q redirects to %q, want /", evil, loc)
		}
	}

	// Federation hooks: the actor link and the peers.
	base = serveWith(t, n, web.Options{ActorURL: "https://hub.example/actor", Peers: func(context.Context) ([]web.PeerInfo, error) {
		return []web.PeerInfo{{Name: "CONUMM <Pays de la Loire>", URL: "https://conumm.example/", Host: "conumm.example", Following: true, Follower: true}}, nil
	}})
	_, body = newBrowser(t, base).get("/")
	wantIn(t, "home with federation", body, `<link rel="alternate" type="application/activity+json" href="https://hub.example/actor">`,
		"CONUMM &lt;Pays de la Loire&gt;", `href="https://conumm.example/"`, "suivi mutuel")
	wantNotIn(t, "home with federation", body, "Aucun hub pour l&#39;instant.")
	base = serveWith(t, n, web.Options{Peers: func(context.Context) ([]web.PeerInfo, error) { return nil, errors.New("state store closed") }})
	resp, body = newBrowser(t, base).get("/hub")
	wantStatus(t, "hub page with failing peers", resp, body, 200)
	wantIn(t, "hub page with failing peers", body, "Aucun hub pour l&#39;instant.")
}

func TestUISearchPage(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true})
	seedCorpus(t, n)
	b := newBrowser(t, n.URL)

	resp, body := b.get("/recherche?q=" + url.QueryEscape("mot de pase"))
	wantStatus(t, "search", resp, body, 200)
	wantIn(t, "search with a typo", body, "<mark>", `name="kind"`, `name="theme"`, `name="audience"`, `name="level"`,
		`name="language"`, `name="license"`, `name="hub"`, `<select id="sort" name="sort">`, "ressources trouvées")
	if !regexp.MustCompile(`<label for="f-kind-\d+">[^<]+ <span class="count">\(\d+\)</span>`).MatchString(body) {
		t.Errorf("facets should show counts next to each value")
	}

	_, body = b.get("/search?kind=tutorial&theme=cybersecurite&sort=newest")
	wantIn(t, "filtered search (English path)", body, `value="tutorial" checked`, `value="cybersecurite" checked`,
		`<option value="newest" selected>`, "Retirer le filtre Tutoriel", `href="/recherche?sort=newest&amp;theme=cybersecurite"`)

	_, body = b.get("/recherche?q=zzxqwvbnt")
	wantIn(t, "no result", body, "Aucune ressource ne correspond", "Vérifiez l&#39;orthographe", `href="/ressources"`)
	wantNotIn(t, "no result without filters", body, "Retirez un filtre")
	_, body = b.get("/recherche?q=zzxqwvbnt&kind=tutorial")
	wantIn(t, "no result with a filter", body, "Retirez un filtre", "Retirer le filtre Tutoriel")

	_, body = b.get("/recherche")
	wantIn(t, "browse by search, page 1", body, `rel="next"`, "Page 1 sur")
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(body)[1]
	_, body = b.get(strings.ReplaceAll(next, "&amp;", "&"))
	wantIn(t, "page 2", body, "Page 2 sur", `rel="prev"`)

	resp, body = b.get("/recherche?page=deux")
	wantStatus(t, "bad page number", resp, body, 400)
	wantIn(t, "bad page number", body, "Demande incorrecte")

	// The hostile query is echoed escaped, never as markup.
	_, body = b.get("/recherche?q=" + url.QueryEscape(`"><script>alert(1)</script>`))
	wantNotIn(t, "hostile query", body, "<script>alert(1)")
	wantIn(t, "hostile query", body, "&lt;script&gt;alert(1)&lt;/script&gt;")
}

func TestUISearchEngineDown(t *testing.T) {
	down := search.NewReconnecting(func(context.Context) (node.Index, error) {
		return nil, errors.New("dial tcp 127.0.0.1:7700: connect: connection refused")
	}, time.Hour)
	n := testnode.Start(t, testnode.Options{Index: down})
	publish(t, n, kitJSON)
	b := newBrowser(t, n.URL)
	resp, body := b.get("/recherche?q=atelier")
	wantStatus(t, "search down", resp, body, 503)
	wantIn(t, "search down", body, "Recherche momentanément indisponible", `href="/ressources"`)
	wantNotIn(t, "search down", body, "7700")
	for _, p := range []string{"/", "/ressources"} {
		resp, body = b.get(p)
		wantStatus(t, p+" with search down", resp, body, 200)
		wantIn(t, p+" with search down", body, "Créer sa première adresse e-mail")
	}
	b.lang = "en"
	_, body = b.get("/recherche?q=atelier")
	wantIn(t, "search down in English", body, "Search temporarily unavailable", "browse and download")
}

const hostileDescription = `**Objectifs**

<script>alert('desc')</script>
<img src="x" onerror="alert('img')">
<a href="#" onclick="alert('a')">lien</a>

[clic](javascript:alert('md'))
[ok](https://example.org/guide)

# Titre de niveau un`

func TestUIResourcePage(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true})
	ctx := context.Background()
	title := `</script><script>alert("t")</script> Kit <b>atelier</b>`
	res, err := n.Service.Publish(ctx, node.Resource{Metadata: node.Metadata{Title: title, Summary: `Résumé " onmouseover="alert(1)`, Description: hostileDescription,
		Kind: "workshop-kit", Themes: []string{"smartphone"}, Audience: []string{"seniors"}, Level: "debutant",
		License: "CC-BY-SA-4.0", Language: "fr", Authors: []string{"Atelier <Numérique>"}}},
		func(yield func(node.Upload) error) error {
			return yield(node.Upload{Name: "guide animateur.pdf", Body: strings.NewReader(strings.Repeat("x", 1536)), Size: -1})
		}, false)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, n.URL)
	resp, body := b.get("/r/" + res.ID)
	wantStatus(t, "resource", resp, body, 200)
	wantNotIn(t, "hostile resource", body, `<script>alert`, "javascript:", "onerror", "onclick", `onmouseover="`, "<b>atelier</b>", "<h1>Titre")
	wantIn(t, "resource", body, "&lt;/script&gt;&lt;script&gt;alert(", "Kit d&#39;atelier", "Smartphone et tablette", "Seniors", "Débutant",
		"Français", "Atelier &lt;Numérique&gt;", "(ce hub)", `href="https://creativecommons.org/licenses/by-sa/4.0/deed.fr" rel="license"`,
		"CC BY-SA 4.0", "<strong>Objectifs</strong>", `href="https://example.org/guide"`, "<h3>Titre de niveau un</h3>",
		"guide animateur.pdf", "Document PDF", "1,5 Ko", `href="/r/`+res.ID+`/files/guide%20animateur.pdf" download`,
		"Télécharger le kit complet (.zip)", `href="/r/`+res.ID+`.zip"`, `<h1 lang="fr">`)
	if strings.Count(body, "<h1") != 1 {
		t.Errorf("resource page: %d h1, want 1", strings.Count(body, "<h1"))
	}
	attr := web.Attribution(res)
	wantIn(t, "attribution line", body, strings.NewReplacer("<", "&lt;", ">", "&gt;", `"`, "&#34;").Replace(attr))

	// JSON-LD: one data block, parseable, carrying the schema.org fields.
	m := regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`).FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("want exactly one JSON-LD block (a title must not close it), got %d", len(m))
	}
	var ld map[string]any
	if err := json.Unmarshal([]byte(m[0][1]), &ld); err != nil {
		t.Fatalf("JSON-LD does not parse: %v\n%s", err, m[0][1])
	}
	if ld["@type"] != "LearningResource" || ld["name"] != title || ld["inLanguage"] != "fr" || ld["learningResourceType"] != "Kit d'atelier" ||
		ld["license"] != "https://creativecommons.org/licenses/by-sa/4.0/deed.fr" {
		t.Errorf("JSON-LD fields: %v", ld)
	}
	if aud, _ := ld["audience"].([]any); len(aud) != 1 || aud[0].(map[string]any)["audienceType"] != "Seniors" {
		t.Errorf("JSON-LD audience: %v", ld["audience"])
	}

	// The download and the zip behind the page's links.
	resp, _ = b.get("/r/" + res.ID + "/files/guide%20animateur.pdf")
	wantStatus(t, "file download", resp, "", 200)
	resp, _ = b.get("/r/" + res.ID + ".zip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("zip: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	// In English, the labels change and the resource keeps its own lang.
	b.lang = "en"
	_, body = b.get("/r/" + res.ID)
	wantIn(t, "resource in English", body, `<html lang="en">`, "Workshop kit", "Download the whole kit (.zip)", "1.5 KB", `<h1 lang="fr">`, "licensed under CC BY-SA 4.0")

	resp, body = b.get("/r/nexiste-pas")
	wantStatus(t, "missing resource", resp, body, 404)
	wantIn(t, "missing resource in English", body, "Page not found", `href="/recherche"`)
	b.lang = ""
	resp, body = b.get("/pas/de/page/ici")
	wantStatus(t, "unknown path", resp, body, 404)
	wantIn(t, "unknown path", body, "Page introuvable", "Vérifiez l&#39;adresse", `<html lang="fr">`)
}

func TestUIGuide(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	b := newBrowser(t, n.URL)
	resp, body := b.get("/guide")
	wantStatus(t, "guide", resp, body, 200)
	wantIn(t, "guide", body, "Je cherche un guide pour…", `name="qui" value="association"`, `name="qui" value="tpe"`, `name="qui" value="commune"`,
		`name="besoin" value="vendre"`, "protéger vos données", `<label for="besoin-vendre">`)
	resp, _ = b.get("/guide?envoi=1&qui=association&besoin=vendre&besoin=donnees")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("guide answer: %d, want 303", resp.StatusCode)
	}
	u, _ := url.Parse(loc)
	if u.Path != "/recherche" || u.Query().Get("audience") != "associations" ||
		strings.Join(u.Query()["theme"], ",") != "vente-en-ligne,donnees-personnelles,cybersecurite" {
		t.Errorf("guide answer goes to %q", loc)
	}
	resp, _ = b.get("/guide?envoi=1&qui=commune")
	if l := resp.Header.Get("Location"); l != "/recherche?audience=collectivites" {
		t.Errorf("commune goes to %q", l)
	}
	resp, body = b.get("/guide?envoi=1&qui=")
	wantStatus(t, "empty guide answer", resp, body, 400)
	wantIn(t, "empty guide answer", body, `role="alert"`, "Choisissez au moins une réponse")
	resp, body = b.get("/guide?envoi=1&qui=martien")
	wantStatus(t, "unknown guide answer", resp, body, 400)
	wantIn(t, "unknown guide answer", body, "pas reconnue")
}

func TestUIHubAndFeed(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Allow: []string{"CC-BY-NC-SA-4.0"}})
	publish(t, n, kitJSON)
	publish(t, n, strings.Replace(kitJSON, "Créer sa première adresse e-mail", "Sécuriser sa boîte <mail> & ses mots de passe", 1))
	b := newBrowser(t, n.URL)
	resp, body := b.get("/hub")
	wantStatus(t, "hub", resp, body, 200)
	wantIn(t, "hub", body, "Licences acceptées", "CC-BY-SA-4.0", "etalab-2.0", "CC-BY-NC-SA-4.0", `href="/feed.atom"`, `href="/api/v1/resources"`,
		"2 ressources", "Aucun hub pour l&#39;instant.")
	wantNotIn(t, "hub", body, "CC-BY-ND-4.0")

	resp, body = b.get("/feed.atom")
	wantStatus(t, "feed", resp, body, 200)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/atom+xml") {
		t.Errorf("feed content type %q", ct)
	}
	var feed struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Title   string   `xml:"title"`
		Updated string   `xml:"updated"`
		Entries []struct {
			ID      string `xml:"id"`
			Title   string `xml:"title"`
			Updated string `xml:"updated"`
			Link    struct {
				Href string `xml:"href,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(body), &feed); err != nil {
		t.Fatalf("feed is not Atom XML: %v", err)
	}
	if feed.ID == "" || feed.Title == "" || len(feed.Entries) != 2 {
		t.Fatalf("feed: id %q title %q, %d entries", feed.ID, feed.Title, len(feed.Entries))
	}
	titles := feed.Entries[0].Title + "|" + feed.Entries[1].Title
	if !strings.Contains(titles, "Sécuriser sa boîte <mail> & ses mots de passe") {
		t.Errorf("feed titles %q", titles)
	}
	for _, e := range feed.Entries {
		if _, err := time.Parse(time.RFC3339, e.Updated); err != nil || !strings.HasPrefix(e.ID, n.URL+"/r/") || e.Link.Href != e.ID {
			t.Errorf("feed entry %+v: %v", e, err)
		}
	}
}

// TestUIEditor walks an editor through login, a refused licence, a file
// too large, a publication with a file, an edit, file changes and a delete.
func TestUIEditor(t *testing.T) {
	n := testnode.Start(t, testnode.Options{MaxFileSize: 4096})
	ctx := context.Background()
	if err := n.Service.SetPassword(ctx, "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, n.URL)
	resp, _ := b.get("/editeur/nouveau")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/connexion?retour=") {
		t.Fatalf("editor page without login: %d %q, want a redirect to the login page", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := b.get("/connexion?retour=/editeur/nouveau")
	wantStatus(t, "login page", resp, body, 200)
	wantIn(t, "login page", body, `<label for="name">`, `<label for="password">`, `autocomplete="current-password"`)
	token := csrfOf(t, body)
	for _, c := range resp.Cookies() {
		if c.Name == "communs_session" && (!c.HttpOnly || c.SameSite != http.SameSiteLaxMode) {
			t.Errorf("session cookie %+v: want HttpOnly and SameSite=Lax", c)
		}
	}

	resp, body = b.postForm("/connexion", url.Values{"csrf": {token}, "name": {"editor"}, "password": {"faux-mot-de-passe"}})
	wantStatus(t, "wrong password", resp, body, 401)
	wantIn(t, "wrong password", body, "Nom d&#39;utilisateur ou mot de passe incorrect", `aria-invalid="true"`)
	resp, body = b.postForm("/connexion", url.Values{"name": {"editor"}, "password": {"un-mot-de-passe-solide"}})
	wantStatus(t, "login without CSRF token", resp, body, 403)
	resp, _ = b.postForm("/connexion", url.Values{"csrf": {token}, "name": {"editor"}, "password": {"un-mot-de-passe-solide"}, "retour": {"/editeur/nouveau"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/editeur/nouveau" {
		t.Fatalf("login: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	resp, body = b.get("/editeur/nouveau")
	wantStatus(t, "new resource form", resp, body, 200)
	wantIn(t, "new resource form", body, `enctype="multipart/form-data"`, `<label for="f-title">`, `type="file"`, "Se déconnecter (editor)",
		`data-max-size="4096"`)
	token = csrfOf(t, body)
	fields := func(tok, licence string) [][2]string {
		return [][2]string{{"csrf", tok}, {"title", "Kit <atelier> visio"}, {"summary", "Animer un atelier visio."}, {"description", "**Déroulé**"},
			{"kind", "workshop-kit"}, {"themes", "visioconference"}, {"audience", "seniors"}, {"level", "debutant"},
			{"license", licence}, {"language", "fr"}, {"authors", "Atelier A, Atelier B"}, {"published", ""}}
	}
	resp, body = b.postMultipart("/editeur/nouveau", fields("mauvais-jeton", "CC-BY-SA-4.0"), nil)
	wantStatus(t, "create with a wrong CSRF token", resp, body, 403)
	wantIn(t, "create with a wrong CSRF token", body, "Action refusée")

	resp, body = b.postMultipart("/editeur/nouveau", fields(token, "CC-BY-NC-4.0"), map[string][]byte{"fiche.pdf": []byte("%PDF-1.7")})
	wantStatus(t, "refused licence", resp, body, 400)
	wantIn(t, "refused licence", body, `role="alert"`, `href="#f-license"`, `id="e-license"`, "Cette licence n&#39;est pas acceptée",
		"Licences acceptées : ", "CC BY-SA 4.0", `value="Kit &lt;atelier&gt; visio"`, `value="visioconference" checked`)

	resp, body = b.postMultipart("/editeur/nouveau", fields(token, "CC-BY-SA-4.0"), map[string][]byte{"video.mp4": bytes.Repeat([]byte("v"), 5000)})
	wantStatus(t, "file too large", resp, body, 413)
	wantIn(t, "file too large", body, `id="e-file"`, "Ce fichier est trop gros", "4 Ko")
	if items, _, _ := n.Service.List(ctx, node.ListOptions{}); len(items) != 0 {
		t.Fatalf("a refused publication left %d resources", len(items))
	}

	resp, body = b.postMultipart("/editeur/nouveau", fields(token, "CC-BY-SA-4.0"), map[string][]byte{"fiche animateur.pdf": []byte("%PDF-1.7 fiche")})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("publish: %d\n%.3000s", resp.StatusCode, body)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/r/")
	res, err := n.Service.Get(ctx, id)
	if err != nil || res.Title != "Kit <atelier> visio" || len(res.Files) != 1 || res.Files[0].Name != "fiche animateur.pdf" ||
		strings.Join(res.Authors, "|") != "Atelier A|Atelier B" {
		t.Fatalf("published resource: %+v %v", res, err)
	}
	_, body = b.get("/r/" + id)
	wantIn(t, "published resource page for its editor", body, `href="/editeur/r/`+id+`"`)

	resp, body = b.get("/editeur/r/" + id)
	wantStatus(t, "edit form", resp, body, 200)
	wantIn(t, "edit form", body, "fiche animateur.pdf", `value="Kit &lt;atelier&gt; visio"`, `action="/editeur/r/`+id+`/fichiers"`)
	edit := url.Values{"csrf": {token}, "title": {"Kit atelier visio (v2)"}, "kind": {"workshop-kit"}, "license": {"CC-BY-4.0"}, "language": {"fr"},
		"themes": {"visioconference", "messagerie"}}
	resp, _ = b.postForm("/editeur/r/"+id, edit)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", resp.StatusCode)
	}
	if res, _ = n.Service.Get(ctx, id); res.Title != "Kit atelier visio (v2)" || res.License != "CC-BY-4.0" || len(res.Themes) != 2 {
		t.Errorf("edited resource: %+v", res)
	}
	edit.Set("published", "15/03/2024")
	resp, body = b.postForm("/editeur/r/"+id, edit)
	wantStatus(t, "edit with a bad date", resp, body, 400)
	wantIn(t, "edit with a bad date", body, `id="e-published"`, `aria-describedby="h-published e-published" aria-invalid="true"`, "Indiquez une date valide")

	resp, body = b.postMultipart("/editeur/r/"+id+"/fichiers", [][2]string{{"csrf", token}}, map[string][]byte{"annexe.odt": []byte("PK odt")})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add file: %d %.2000s", resp.StatusCode, body)
	}
	resp, _ = b.postForm("/editeur/r/"+id+"/fichiers/supprimer", url.Values{"csrf": {token}, "name": {"fiche animateur.pdf"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete file: %d", resp.StatusCode)
	}
	if res, _ = n.Service.Get(ctx, id); len(res.Files) != 1 || res.Files[0].Name != "annexe.odt" {
		t.Errorf("files after add and delete: %+v", res.Files)
	}

	resp, body = b.get("/editeur/r/" + id + "/supprimer")
	wantStatus(t, "delete confirmation", resp, body, 200)
	wantIn(t, "delete confirmation", body, "Voulez-vous vraiment supprimer", "Kit atelier visio (v2)", "Oui, supprimer définitivement")
	resp, _ = b.postForm("/editeur/r/"+id+"/supprimer", url.Values{})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("delete without CSRF token: %d, want 403", resp.StatusCode)
	}
	resp, _ = b.postForm("/editeur/r/"+id+"/supprimer", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if _, err := n.Service.Get(ctx, id); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("deleted resource still there: %v", err)
	}
	_, body = b.get("/editeur?supprime=1")
	wantIn(t, "editor home after delete", body, "La ressource a été supprimée.")

	resp, _ = b.postForm("/deconnexion", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp, _ = b.get("/editeur")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("editor page after logout: %d, want a redirect to login", resp.StatusCode)
	}

	// A forged cookie is no session.
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(n.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "communs_session", Value: "c2lkfGVkaXRvcnxlZGl0b3J8OTk5OTk5OTk5OQ.forged"}})
	b.c.Jar = jar
	resp, _ = b.get("/editeur")
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("forged session cookie: %d, want a redirect to login", resp.StatusCode)
	}
}
