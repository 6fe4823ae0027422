package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web"
)

// createCollection posts a collection as user and returns the answer.
func createCollection(t *testing.T, f orgFixture, user, body string) (*http.Response, web.CollectionJSON, errBody) {
	t.Helper()
	resp := call(t, "POST", f.n.URL+"/api/v1/collections", f.tokens[user], "application/json", strings.NewReader(body), nil)
	var c web.CollectionJSON
	var e errBody
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
	} else {
		json.Unmarshal(data, &e)
	}
	return resp, c, e
}

// TestAPICollections: an editor creates a collection of the hub's
// resources (201, id, url, owner); bad input is a 400 naming the field and
// changes nothing; an editor of another organisation gets 403 naming the
// owner on every write; unknown ids are 404.
func TestAPICollections(t *testing.T) {
	f := newOrgFixture(t)
	n := f.n
	resp, c, e := createCollection(t, f, "alice", `{"title":"Parcours e-mail","summary":"Deux séances.","description":"**Objectif** : écrire.",
		"items":[{"resource":"kit-alice","note":"Séance 1 : créer son adresse"},{"resource":"kit-carol"}]}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("alice creating a collection: %d %+v", resp.StatusCode, e.Error)
	}
	if c.ID != "parcours-e-mail" || c.URL != n.URL+"/collections/parcours-e-mail" || resp.Header.Get("Location") != c.URL ||
		c.ZipURL != n.URL+"/collections/parcours-e-mail.zip" || !c.Local || c.Organisation != "tilleuls" ||
		c.OrganisationName != "Centre social Les Tilleuls" || c.OrganisationURL != n.URL+"/organisations/tilleuls" {
		t.Errorf("created: %+v", c)
	}
	if len(c.Items) != 2 || c.Items[0].Resource != "kit-alice" || c.Items[0].Note != "Séance 1 : créer son adresse" ||
		c.Items[0].Title != "Kit alice" || c.Items[0].Kind != "tutorial" || c.Items[0].License != "CC-BY-SA-4.0" ||
		c.Items[0].URL != n.URL+"/r/kit-alice" || !c.Items[0].Available || c.Items[1].Resource != "kit-carol" {
		t.Errorf("created items: %+v", c.Items)
	}
	var raw map[string]any
	call(t, "GET", c.URL[:len(n.URL)]+"/api/v1/collections/"+c.ID, "", "", nil, &raw)
	if _, ok := raw["created_by"]; ok {
		t.Errorf("the API shows the account that created the collection: %v", raw)
	}

	// Refused input: a 400 naming the field, nothing stored.
	many := make([]string, node.MaxCollectionItems+1)
	for i := range many {
		many[i] = `{"resource":"kit-alice"}`
	}
	for _, bad := range []struct{ name, body, field, says string }{
		{"unknown item", `{"title":"X","items":[{"resource":"kit-alice"},{"resource":"nulle-part"}]}`, "items[1].resource", "nulle-part"},
		{"duplicate item", `{"title":"X","items":[{"resource":"kit-alice"},{"resource":"kit-alice"}]}`, "items[1].resource", "already"},
		{"too many items", `{"title":"X","items":[` + strings.Join(many, ",") + `]}`, "items", "at most 200"},
		{"no title", `{"title":"","items":[]}`, "title", ""},
		{"bad id", `{"title":"X","items":[{"resource":"../etc"}]}`, "items[0].resource", ""},
		{"long note", `{"title":"X","items":[{"resource":"kit-alice","note":"` + strings.Repeat("n", 301) + `"}]}`, "items[0].note", ""},
	} {
		resp, _, e := createCollection(t, f, "alice", bad.body)
		if resp.StatusCode != http.StatusBadRequest || e.Error.Field != bad.field || !strings.Contains(e.Error.Message, bad.says) {
			t.Errorf("%s: %d %+v, want 400 on %s saying %q", bad.name, resp.StatusCode, e.Error, bad.field, bad.says)
		}
	}
	var page web.CollectionPageJSON
	call(t, "GET", n.URL+"/api/v1/collections", "", "", nil, &page)
	if page.Total != 1 {
		t.Fatalf("after refused creations: %d collections, want 1", page.Total)
	}

	// Ownership: bob (mediatheque) and carol (no organisation) may not
	// change alice's collection; the refusal names the owner.
	for _, user := range []string{"bob", "carol"} {
		for _, w := range []struct{ method, body string }{
			{"PATCH", `{"title":"Changé"}`}, {"PATCH", `{"items":[]}`}, {"DELETE", ""},
		} {
			var e errBody
			ct := ""
			if w.body != "" {
				ct = "application/json"
			}
			resp := call(t, w.method, n.URL+"/api/v1/collections/"+c.ID, f.tokens[user], ct, strings.NewReader(w.body), &e)
			if resp.StatusCode != http.StatusForbidden || e.Error.Code != "forbidden" || !strings.Contains(e.Error.Message, "Centre social Les Tilleuls (tilleuls)") {
				t.Errorf("%s %s by %s: %d %+v, want 403 naming the owner", w.method, w.body, user, resp.StatusCode, e.Error)
			}
		}
	}
	var e2 errBody
	resp = call(t, "POST", n.URL+"/api/v1/collections", f.tokens["bob"], "application/json", strings.NewReader(`{"title":"Pour les Tilleuls","items":[],"organisation":"tilleuls"}`), &e2)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(e2.Error.Message, "tilleuls") {
		t.Errorf("bob creating for tilleuls: %d %+v, want 403", resp.StatusCode, e2.Error)
	}
	var got web.CollectionJSON
	call(t, "GET", n.URL+"/api/v1/collections/"+c.ID, "", "", nil, &got)
	if got.Title != "Parcours e-mail" || len(got.Items) != 2 {
		t.Fatalf("after refused writes: %+v", got)
	}

	// The owner and an admin may.
	resp = call(t, "PATCH", n.URL+"/api/v1/collections/"+c.ID, f.tokens["alice"], "application/json",
		strings.NewReader(`{"items":[{"resource":"kit-carol","note":"d'abord"},{"resource":"kit-alice"}]}`), &got)
	if resp.StatusCode != http.StatusOK || len(got.Items) != 2 || got.Items[0].Resource != "kit-carol" || got.Items[0].Note != "d'abord" || got.Title != "Parcours e-mail" {
		t.Errorf("alice reordering: %d %+v", resp.StatusCode, got)
	}
	if resp := call(t, "PATCH", n.URL+"/api/v1/collections/"+c.ID, f.tokens["root"], "application/json", strings.NewReader(`{"summary":"Par l'admin."}`), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("admin patching: %d", resp.StatusCode)
	}

	// 404s.
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		var e errBody
		body, ct := "", ""
		if m == "PATCH" {
			body, ct = `{"title":"X"}`, "application/json"
		}
		resp := call(t, m, n.URL+"/api/v1/collections/nulle-part", f.tokens["alice"], ct, strings.NewReader(body), &e)
		if resp.StatusCode != http.StatusNotFound || e.Error.Code != "not_found" {
			t.Errorf("%s unknown collection: %d %+v", m, resp.StatusCode, e.Error)
		}
	}

	if resp := call(t, "DELETE", n.URL+"/api/v1/collections/"+c.ID, f.tokens["alice"], "", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("alice deleting: %d", resp.StatusCode)
	}
	if _, err := n.Service.Get(context.Background(), "kit-alice"); err != nil {
		t.Errorf("deleting a collection removed its resource: %v", err)
	}
	if resp := call(t, "GET", n.URL+"/api/v1/collections/"+c.ID, "", "", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted collection: %d, want 404", resp.StatusCode)
	}
}

// TestAPICollectionsPaging: the list pages with limit and the cursor of
// the previous page, filters by origin and organisation, and refuses
// parameters it does not know and cursors it did not issue.
func TestAPICollectionsPaging(t *testing.T) {
	f := newOrgFixture(t)
	n := f.n
	for i := range 5 {
		user := "alice"
		if i%2 == 1 {
			user = "carol"
		}
		if resp, _, e := createCollection(t, f, user, fmt.Sprintf(`{"title":"Collection %d","items":[{"resource":"kit-alice"}]}`, i)); resp.StatusCode != 201 {
			t.Fatalf("create %d: %d %+v", i, resp.StatusCode, e.Error)
		}
	}
	seen := map[string]bool{}
	next := ""
	for pages := 0; ; pages++ {
		u := n.URL + "/api/v1/collections?limit=2"
		if next != "" {
			u += "&cursor=" + url.QueryEscape(next)
		}
		var p web.CollectionPageJSON
		if resp := call(t, "GET", u, "", "", nil, &p); resp.StatusCode != 200 {
			t.Fatalf("page %d: %d", pages, resp.StatusCode)
		}
		if p.Total != 5 || len(p.Items) > 2 {
			t.Fatalf("page %d: total %d, %d items", pages, p.Total, len(p.Items))
		}
		for _, c := range p.Items {
			if seen[c.ID] {
				t.Errorf("%s listed twice", c.ID)
			}
			seen[c.ID] = true
		}
		if next = p.Next; next == "" {
			if pages != 2 {
				t.Errorf("%d pages of 2 for 5 collections, want 3", pages+1)
			}
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 5 {
		t.Errorf("paged through %d collections, want 5", len(seen))
	}
	var p web.CollectionPageJSON
	call(t, "GET", n.URL+"/api/v1/collections?organisation=tilleuls", "", "", nil, &p)
	if p.Total != 3 || len(p.Items) != 3 {
		t.Errorf("organisation=tilleuls: total %d, %d items, want 3", p.Total, len(p.Items))
	}
	call(t, "GET", n.URL+"/api/v1/collections?origin=remote", "", "", nil, &p)
	if p.Total != 0 || len(p.Items) != 0 {
		t.Errorf("origin=remote: %+v, want none", p)
	}
	for _, bad := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=101", "limit"}, {"cursor=pas-un-curseur", "cursor"}, {"cursor=bzk5OTk5OTk5OTk", "cursor"},
		{"origin=ailleurs", "origin"}, {"organisation=Les%20Tilleuls", "organisation"}, {"page=2", "page"},
	} {
		var e errBody
		resp := call(t, "GET", n.URL+"/api/v1/collections?"+bad.query, "", "", nil, &e)
		if resp.StatusCode != http.StatusBadRequest || e.Error.Field != bad.field {
			t.Errorf("?%s: %d %+v, want 400 on %s", bad.query, resp.StatusCode, e.Error, bad.field)
		}
	}
}

var ldRe = regexp.MustCompile(`(?s)<script type="application/ld\+json">(.*?)</script>`)

// TestCollectionPage: the public page shows the collection's text, the
// rendered description, its items in order with note, kind, level,
// licence and hub linked to their pages, the zip link and schema.org
// data; a copy's unavailable items are listed with their reason and the
// link to their origin; the organisation, home, list and search pages
// list it.
func TestCollectionPage(t *testing.T) {
	f := newOrgFixture(t)
	n := f.n
	ctx := context.Background()
	if _, err := n.Service.Update(ctx, "kit-alice", node.Patch{Level: ptr("debutant")}); err != nil {
		t.Fatal(err)
	}
	resp, c, e := createCollection(t, f, "alice", `{"title":"Parcours e-mail","summary":"Deux séances pour écrire.","description":"**Objectif** : <script>alert(1)</script>",
		"items":[{"resource":"kit-carol","note":"Séance 1 : ouvrir <b>sa</b> boîte"},{"resource":"kit-alice","note":"Séance 2"}]}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %+v", resp.StatusCode, e.Error)
	}
	b := newBrowser(t, n.URL)
	resp2, page := b.get("/collections/" + c.ID)
	wantStatus(t, "collection page", resp2, page, 200)
	wantIn(t, "collection page", page, "<h1>Parcours e-mail</h1>", "Deux séances pour écrire.", "<strong>Objectif</strong>",
		`href="/r/kit-carol"`, `href="/r/kit-alice"`, "Séance 1 : ouvrir &lt;b&gt;sa&lt;/b&gt; boîte", "Tutoriel", "Débutant", "CC BY-SA 4.0",
		`href="/collections/parcours-e-mail.zip"`, "Télécharger toute la collection (zip)", `href="/organisations/tilleuls"`)
	wantNotIn(t, "collection page", page, "<script>alert", "<b>sa</b>")
	if strings.Index(page, `href="/r/kit-carol"`) > strings.Index(page, `href="/r/kit-alice"`) {
		t.Errorf("items not in the collection's order")
	}
	m := ldRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no JSON-LD")
	}
	var ld map[string]any
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &ld); err != nil {
		if err := json.Unmarshal([]byte(m[1]), &ld); err != nil {
			t.Fatalf("JSON-LD %s: %v", m[1], err)
		}
	}
	parts, _ := ld["hasPart"].([]any)
	if ld["@type"] != "Collection" || ld["name"] != "Parcours e-mail" || len(parts) != 2 ||
		parts[0].(map[string]any)["url"] != n.URL+"/r/kit-carol" {
		t.Errorf("JSON-LD: %v", ld)
	}
	b.lang = "en"
	_, en := b.get("/collections/" + c.ID)
	wantIn(t, "collection page in English", en, "Download the whole collection (zip)", "The resources, in order")
	b.lang = ""

	// The zip link answers 404 until the bundle is wired.
	resp2, _ = b.get("/collections/" + c.ID + ".zip")
	if resp2.StatusCode != http.StatusNotFound {
		t.Errorf("collection zip: %d, want 404 for now", resp2.StatusCode)
	}
	resp2, _ = b.get("/collections/nulle-part")
	if resp2.StatusCode != http.StatusNotFound {
		t.Errorf("unknown collection page: %d", resp2.StatusCode)
	}

	// A copy from another hub with an item this hub refused.
	origin := "https://autre-hub.example/collections/parcours-visio"
	cp, err := n.Service.SaveRemoteCollection(ctx, node.Collection{Title: "Parcours visio", Hub: "autre-hub", Origin: origin,
		Items:       []node.CollectionItem{{Resource: "kit-alice", Note: "avant"}},
		Unavailable: []node.UnavailableItem{{URL: "https://autre-hub.example/r/kit-nc", Title: "Kit NC", Note: "Séance 3 : le kit NC", Reason: "licence CC BY-NC 4.0 hors de la politique de ce hub"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, page = b.get("/collections/" + cp.ID)
	wantIn(t, "copy's page", page, "non disponible sur ce hub", "licence CC BY-NC 4.0 hors de la politique de ce hub",
		`href="https://autre-hub.example/r/kit-nc"`, "Kit NC", "Séance 3 : le kit NC", `href="`+origin+`"`)
	if resp := call(t, "PATCH", n.URL+"/api/v1/collections/"+cp.ID, f.tokens["root"], "application/json", strings.NewReader(`{"title":"X"}`), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("patching a copy: %d, want 403", resp.StatusCode)
	}

	// Listings.
	_, org := b.get("/organisations/tilleuls")
	wantIn(t, "organisation page", org, "Ses collections", `href="/collections/parcours-e-mail"`)
	wantNotIn(t, "organisation page", org, `href="/collections/`+cp.ID+`"`)
	_, home := b.get("/")
	wantIn(t, "home page", home, `href="/collections/parcours-e-mail"`, `href="/collections/`+cp.ID+`"`, `href="/collections"`)
	_, hub := b.get("/hub")
	wantIn(t, "hub page", hub, `<a href="/collections">2 collections</a>`)
	_, list := b.get("/collections")
	wantIn(t, "list page", list, `href="/collections/parcours-e-mail"`, `href="/collections/`+cp.ID+`"`, "2 collections")
	_, list = b.get("/collections?q=ecrire")
	wantIn(t, "list page searched", list, `href="/collections/parcours-e-mail"`, "1 collection")
	wantNotIn(t, "list page searched", list, `href="/collections/`+cp.ID+`"`)
	resp2, _ = b.get("/collections?page=0")
	if resp2.StatusCode != http.StatusBadRequest {
		t.Errorf("/collections?page=0: %d, want 400", resp2.StatusCode)
	}
}

func ptr[T any](v T) *T { return &v }

// TestCollectionEditor: an editor composes, edits and deletes a
// collection through the forms (CSRF checked); a line that is no resource
// of the hub is shown back with its number and nothing is stored; an
// editor of another organisation gets the 403 page naming the owner.
func TestCollectionEditor(t *testing.T) {
	f := newOrgFixture(t)
	n := f.n
	b := loginAs(t, n.URL, "alice")
	resp, form := b.get("/editeur/nouvelle-collection?ressource=kit-alice")
	wantStatus(t, "new collection form", resp, form, 200)
	wantIn(t, "new collection form", form, `<textarea id="f-items" name="items"`, "kit-alice\n", "Centre social Les Tilleuls")
	csrf := csrfOf(t, form)

	// A bad line, then an unknown resource: 400, the form kept, nothing stored.
	for _, bad := range []struct{ items, says string }{
		{"kit-alice\n\nPas un identifiant | note", "Ligne 3"},
		{"kit-alice | un\nkit-inconnu | deux", "kit-inconnu"},
		{"  \n", "au moins une ressource"},
	} {
		resp, page := b.postForm("/editeur/nouvelle-collection", url.Values{"csrf": {csrf}, "title": {"Parcours"}, "items": {bad.items}})
		wantStatus(t, "bad items "+bad.says, resp, page, 400)
		wantIn(t, "bad items "+bad.says, page, bad.says, `aria-invalid="true"`, "Parcours")
	}
	resp, page := b.postForm("/editeur/nouvelle-collection", url.Values{"csrf": {csrf}, "title": {""}, "items": {"kit-alice"}})
	wantStatus(t, "no title", resp, page, 400)
	resp, _ = b.postForm("/editeur/nouvelle-collection", url.Values{"csrf": {"faux"}, "title": {"Parcours"}, "items": {"kit-alice"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("wrong CSRF token: %d, want 403", resp.StatusCode)
	}
	if _, total, _ := n.Service.ListCollections(context.Background(), node.ListCollectionsQuery{}); total != 0 {
		t.Fatalf("%d collections stored by refused forms", total)
	}

	// Created: ids or page addresses, with notes.
	resp, _ = b.postForm("/editeur/nouvelle-collection", url.Values{"csrf": {csrf}, "title": {"Parcours e-mail"}, "summary": {"Deux séances."},
		"items": {"kit-alice | Séance 1 : créer son adresse\r\n" + n.URL + "/r/kit-carol | Séance 2\r\n"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/collections/parcours-e-mail?enregistree=1" {
		t.Fatalf("create: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	c, err := n.Service.GetCollection(context.Background(), "parcours-e-mail")
	if err != nil || c.Organisation != "tilleuls" || len(c.Items) != 2 || c.Items[0] != (node.CollectionItem{Resource: "kit-alice", Note: "Séance 1 : créer son adresse"}) ||
		c.Items[1] != (node.CollectionItem{Resource: "kit-carol", Note: "Séance 2"}) {
		t.Fatalf("stored: %+v, %v", c, err)
	}
	_, page = b.get("/collections/parcours-e-mail?enregistree=1")
	wantIn(t, "saved collection", page, "La collection est enregistrée.", `href="/editeur/c/parcours-e-mail"`)
	_, home := b.get("/editeur")
	wantIn(t, "editor home", home, `href="/editeur/c/parcours-e-mail"`, `href="/editeur/nouvelle-collection"`)

	// Edited: the form shows the lines; moving a line reorders.
	resp, form = b.get("/editeur/c/parcours-e-mail")
	wantStatus(t, "edit form", resp, form, 200)
	wantIn(t, "edit form", form, "kit-alice | Séance 1 : créer son adresse\nkit-carol | Séance 2\n", "Kit alice")
	resp, _ = b.postForm("/editeur/c/parcours-e-mail", url.Values{"csrf": {csrf}, "title": {"Parcours e-mail"}, "items": {"kit-carol | Séance 1\nkit-alice"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	c, _ = n.Service.GetCollection(context.Background(), "parcours-e-mail")
	if len(c.Items) != 2 || c.Items[0].Resource != "kit-carol" || c.Items[1] != (node.CollectionItem{Resource: "kit-alice"}) || c.Summary != "" {
		t.Errorf("after update: %+v", c)
	}

	// bob, of another organisation: the 403 page naming the owner, on
	// every page and form.
	bob := loginAs(t, n.URL, "bob")
	_, bobHome := bob.get("/editeur")
	bobCSRF := csrfOf(t, bobHome)
	for _, req := range []struct {
		method, path string
	}{{"GET", "/editeur/c/parcours-e-mail"}, {"POST", "/editeur/c/parcours-e-mail"}, {"GET", "/editeur/c/parcours-e-mail/supprimer"}, {"POST", "/editeur/c/parcours-e-mail/supprimer"}} {
		var resp *http.Response
		var page string
		if req.method == "GET" {
			resp, page = bob.get(req.path)
		} else {
			resp, page = bob.postForm(req.path, url.Values{"csrf": {bobCSRF}, "title": {"Changé"}, "items": {"kit-alice"}})
		}
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "Cette collection appartient à l&#39;organisation Centre social Les Tilleuls (tilleuls)") {
			t.Errorf("bob %s %s: %d, want 403 naming the owner", req.method, req.path, resp.StatusCode)
		}
	}

	// Deleted, after confirmation; the resources stay.
	resp, page = b.get("/editeur/c/parcours-e-mail/supprimer")
	wantStatus(t, "delete confirmation", resp, page, 200)
	resp, _ = b.postForm("/editeur/c/parcours-e-mail/supprimer", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/editeur?collection-supprimee=1") {
		t.Fatalf("delete: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := n.Service.GetCollection(context.Background(), "parcours-e-mail"); err == nil {
		t.Errorf("collection still there after delete")
	}
	if _, err := n.Service.Get(context.Background(), "kit-alice"); err != nil {
		t.Errorf("deleting the collection removed a resource: %v", err)
	}
	// An admin chooses the organisation; an editor's post of the field
	// for another organisation is refused.
	root := loginAs(t, n.URL, "root")
	_, form = root.get("/editeur/nouvelle-collection")
	wantIn(t, "admin's form", form, `<select id="f-organisation" name="organisation"`, `<option value="mediatheque"`)
	resp, _ = root.postForm("/editeur/nouvelle-collection", url.Values{"csrf": {csrfOf(t, form)}, "title": {"Pour la médiathèque"}, "items": {"kit-carol"}, "organisation": {"mediatheque"}})
	if c, err := n.Service.GetCollection(context.Background(), "pour-la-mediatheque"); resp.StatusCode != http.StatusSeeOther || err != nil || c.Organisation != "mediatheque" {
		t.Errorf("admin creating for mediatheque: %d, %+v, %v", resp.StatusCode, c, err)
	}
	_, form = b.get("/editeur/nouvelle-collection")
	wantNotIn(t, "editor's form", form, `name="organisation"`)
	resp, page = b.postForm("/editeur/nouvelle-collection", url.Values{"csrf": {csrf}, "title": {"En douce"}, "items": {"kit-carol"}, "organisation": {"mediatheque"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("alice posting for mediatheque: %d, want 403", resp.StatusCode)
	}

	// Logged out: the editor pages send to the login page.
	resp, _ = newBrowser(t, n.URL).get("/editeur/nouvelle-collection")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/connexion") {
		t.Errorf("anonymous new collection form: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestSearchCollections: type=collection finds collections by the words
// of their title, summary or description, accents and case aside, title
// matches first; the search page shows them in their own section.
func TestSearchCollections(t *testing.T) {
	f := newOrgFixtureWith(t, testnode.Options{Search: true})
	n := f.n
	for _, body := range []string{
		`{"title":"Ateliers smartphone","summary":"Prendre en main son téléphone.","items":[{"resource":"kit-alice"}]}`,
		`{"title":"Parcours seniors","summary":"Un smartphone pour appeler ses proches.","items":[{"resource":"kit-alice"}]}`,
		`{"title":"Démarches en ligne","description":"Avec un **ordinateur** ou un téléphone.","items":[{"resource":"kit-carol"}]}`,
	} {
		if resp, _, e := createCollection(t, f, "alice", body); resp.StatusCode != 201 {
			t.Fatalf("create: %d %+v", resp.StatusCode, e.Error)
		}
	}
	for _, c := range []struct {
		q    string
		want []string
	}{
		{"smartphone", []string{"ateliers-smartphone", "parcours-seniors"}},
		{"SMARTPHONE proches", []string{"parcours-seniors"}},
		{"telephone", []string{"ateliers-smartphone", "demarches-en-ligne"}},
		{"démarche", []string{"demarches-en-ligne"}},
		{"ordi", []string{"demarches-en-ligne"}},
		{"tablette", nil},
	} {
		var res web.CollectionSearchJSON
		if resp := call(t, "GET", n.URL+"/api/v1/search?type=collection&q="+url.QueryEscape(c.q), "", "", nil, &res); resp.StatusCode != 200 {
			t.Fatalf("search %q: %d", c.q, resp.StatusCode)
		}
		var ids []string
		for _, h := range res.Hits {
			ids = append(ids, h.ID)
		}
		if strings.Join(ids, ",") != strings.Join(c.want, ",") || res.Total != len(c.want) || res.Type != "collection" {
			t.Errorf("search %q: %v (total %d), want %v", c.q, ids, res.Total, c.want)
		}
	}
	var res web.CollectionSearchJSON
	call(t, "GET", n.URL+"/api/v1/search?type=collection&q=smartphone&per_page=1&page=2", "", "", nil, &res)
	if len(res.Hits) != 1 || res.Hits[0].ID != "parcours-seniors" || res.Total != 2 {
		t.Errorf("page 2 of 1: %+v", res)
	}
	b := newBrowser(t, n.URL)
	_, page := b.get("/recherche?q=smartphone")
	wantIn(t, "search page", page, `href="/collections/ateliers-smartphone"`, `href="/collections/parcours-seniors"`, `href="/collections?q=smartphone"`)
	_, page = b.get("/recherche?q=smartphone&kind=tutorial")
	wantNotIn(t, "search page with a filter", page, `href="/collections/ateliers-smartphone"`)
	resp, _ := b.get("/recherche?type=collection&q=smartphone")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/collections?q=smartphone" {
		t.Errorf("search page type=collection: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
