package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

type orgFixture struct {
	n      *testnode.Node
	tokens map[string]string
}

// newOrgFixture: a hub with two organisations, alice (editor of
// tilleuls), bob (editor of mediatheque), carol (editor without
// organisation) and root (admin), all with a web password; alice and
// carol have published one kit each through the API.
func newOrgFixture(t *testing.T) orgFixture {
	t.Helper()
	return newOrgFixtureWith(t, testnode.Options{})
}

// newOrgFixtureWith is newOrgFixture on a node started with opt.
func newOrgFixtureWith(t *testing.T, opt testnode.Options) orgFixture {
	t.Helper()
	ctx := context.Background()
	n := testnode.Start(t, opt)
	f := orgFixture{n: n, tokens: map[string]string{}}
	for _, o := range []node.Organisation{
		{Slug: "tilleuls", Name: "Centre social Les Tilleuls", Description: "Ateliers numériques du quartier."},
		{Slug: "mediatheque", Name: "Médiathèque du Port"},
	} {
		if _, err := n.Service.AddOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []struct{ name, role, org string }{
		{"alice", node.RoleEditor, "tilleuls"}, {"bob", node.RoleEditor, "mediatheque"},
		{"carol", node.RoleEditor, ""}, {"root", node.RoleAdmin, ""},
	} {
		_, tok, err := n.Service.AddUser(ctx, u.name, u.role)
		if err != nil {
			t.Fatal(err)
		}
		if u.org != "" {
			if err := n.Service.SetUserOrganisation(ctx, u.name, u.org); err != nil {
				t.Fatal(err)
			}
		}
		if err := n.Service.SetPassword(ctx, u.name, "mot-de-passe-"+u.name); err != nil {
			t.Fatal(err)
		}
		f.tokens[u.name] = tok
	}
	for _, p := range []struct{ user, id string }{{"alice", "kit-alice"}, {"carol", "kit-carol"}} {
		body := fmt.Sprintf(`{"id":%q,"title":"Kit %s","kind":"tutorial","license":"CC-BY-SA-4.0"}`, p.id, p.user)
		var out map[string]any
		if resp := call(t, "POST", n.URL+"/api/v1/resources", f.tokens[p.user], "application/json", strings.NewReader(body), &out); resp.StatusCode != 201 {
			t.Fatalf("%s publishing: %d %v", p.user, resp.StatusCode, out)
		}
		resp := call(t, "PUT", n.URL+"/api/v1/resources/"+p.id+"/files/guide.txt", f.tokens[p.user], "text/plain", strings.NewReader("guide"), nil)
		if resp.StatusCode != 201 {
			t.Fatalf("%s uploading: %d", p.user, resp.StatusCode)
		}
	}
	return f
}

// TestAPIOwnershipRefusals: every API write route refuses (403, the owner
// named, nothing changed) an editor of another organisation and an editor
// without organisation on someone else's resource; the owner and an admin
// may.
func TestAPIOwnershipRefusals(t *testing.T) {
	f := newOrgFixture(t)
	n := f.n
	var created map[string]any
	call(t, "GET", n.URL+"/api/v1/resources/kit-alice", "", "", nil, &created)
	if created["organisation"] != "tilleuls" || created["organisation_name"] != "Centre social Les Tilleuls" ||
		created["organisation_url"] != n.URL+"/organisations/tilleuls" || created["created_by"] != nil {
		t.Fatalf("alice's resource as the API shows it: organisation %v %v %v, created_by %v; want tilleuls, its name and page, and no account name",
			created["organisation"], created["organisation_name"], created["organisation_url"], created["created_by"])
	}
	type route struct {
		name, method, path, ctype, body string
	}
	routes := func(id string) []route {
		return []route{
			{"patch", "PATCH", "/api/v1/resources/" + id, "application/json", `{"title":"Changé"}`},
			{"replace", "POST", "/api/v1/resources?replace=true", "application/json", fmt.Sprintf(`{"id":%q,"title":"Remplacé","kind":"tutorial","license":"CC-BY-SA-4.0"}`, id)},
			{"file upload", "PUT", "/api/v1/resources/" + id + "/files/autre.txt", "text/plain", "autre"},
			{"file delete", "DELETE", "/api/v1/resources/" + id + "/files/guide.txt", "", ""},
			{"delete", "DELETE", "/api/v1/resources/" + id, "", ""},
		}
	}
	for _, c := range []struct {
		user, id, owner string
	}{
		{"bob", "kit-alice", "Centre social Les Tilleuls (tilleuls)"},
		{"carol", "kit-alice", "Centre social Les Tilleuls (tilleuls)"},
		{"alice", "kit-carol", "published by user carol"},
	} {
		for _, rt := range routes(c.id) {
			var body io.Reader
			if rt.body != "" {
				body = strings.NewReader(rt.body)
			}
			var e errBody
			resp := call(t, rt.method, n.URL+rt.path, f.tokens[c.user], rt.ctype, body, &e)
			if resp.StatusCode != http.StatusForbidden || e.Error.Code != "forbidden" || !strings.Contains(e.Error.Message, c.owner) {
				t.Errorf("%s by %s on %s: %d %+v; want 403 forbidden naming %q", rt.name, c.user, c.id, resp.StatusCode, e.Error, c.owner)
			}
		}
		r, err := n.Service.Get(context.Background(), c.id)
		if err != nil || strings.HasPrefix(r.Title, "Chang") || strings.HasPrefix(r.Title, "Rempl") || len(r.Files) != 1 {
			t.Fatalf("%s after %s's refused writes: %+v, %v; want unchanged", c.id, c.user, r, err)
		}
	}
	// Publishing for another organisation, or for an unknown one.
	var e errBody
	resp := call(t, "POST", n.URL+"/api/v1/resources", f.tokens["alice"], "application/json",
		strings.NewReader(`{"title":"Pour la médiathèque","kind":"tutorial","license":"CC-BY-SA-4.0","organisation":"mediatheque"}`), &e)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(e.Error.Message, "mediatheque") {
		t.Errorf("alice publishing for mediatheque: %d %+v, want 403 naming mediatheque", resp.StatusCode, e.Error)
	}
	resp = call(t, "POST", n.URL+"/api/v1/resources", f.tokens["root"], "application/json",
		strings.NewReader(`{"title":"Inconnue","kind":"tutorial","license":"CC-BY-SA-4.0","organisation":"inconnue"}`), &e)
	if resp.StatusCode != http.StatusBadRequest || e.Error.Field != "organisation" {
		t.Errorf("unknown organisation: %d %+v, want 400 on the field organisation", resp.StatusCode, e.Error)
	}
	resp = call(t, "PATCH", n.URL+"/api/v1/resources/kit-alice", f.tokens["alice"], "application/json", strings.NewReader(`{"organisation":"mediatheque"}`), &e)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("alice giving her resource away: %d %+v, want 403", resp.StatusCode, e.Error)
	}
	// The owners and an admin may.
	for _, ok := range []struct{ user, id string }{{"alice", "kit-alice"}, {"carol", "kit-carol"}, {"root", "kit-alice"}} {
		if resp := call(t, "PATCH", n.URL+"/api/v1/resources/"+ok.id, f.tokens[ok.user], "application/json", strings.NewReader(`{"summary":"ok"}`), nil); resp.StatusCode != 200 {
			t.Errorf("%s patching %s: %d, want 200", ok.user, ok.id, resp.StatusCode)
		}
	}
	if resp := call(t, "PATCH", n.URL+"/api/v1/resources/kit-carol", f.tokens["root"], "application/json", strings.NewReader(`{"organisation":"mediatheque"}`), nil); resp.StatusCode != 200 {
		t.Fatalf("admin giving kit-carol to mediatheque: %d", resp.StatusCode)
	}
	if resp := call(t, "DELETE", n.URL+"/api/v1/resources/kit-carol/files/guide.txt", f.tokens["bob"], "", nil, nil); resp.StatusCode != 204 {
		t.Errorf("bob, now of the owning organisation, deleting a file: %d, want 204", resp.StatusCode)
	}
	if resp := call(t, "DELETE", n.URL+"/api/v1/resources/kit-carol", f.tokens["bob"], "", nil, nil); resp.StatusCode != 204 {
		t.Errorf("bob deleting kit-carol: %d, want 204", resp.StatusCode)
	}
	// An organisation that owns resources is not removed.
	resp = call(t, "DELETE", n.URL+"/api/v1/organisations/tilleuls", f.tokens["root"], "", nil, &e)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(e.Error.Message, "1 resource(s)") {
		t.Errorf("removing tilleuls: %d %+v, want 409 with the count", resp.StatusCode, e.Error)
	}
	resp = call(t, "DELETE", n.URL+"/api/v1/organisations/mediatheque", f.tokens["alice"], "", nil, &e)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an editor removing an organisation: %d, want 403", resp.StatusCode)
	}
}

// loginAs logs a browser in with a user's password.
func loginAs(t *testing.T, base, name string) *browser {
	t.Helper()
	b := newBrowser(t, base)
	_, body := b.get("/connexion")
	resp, _ := b.postForm("/connexion", url.Values{"csrf": {csrfOf(t, body)}, "name": {name}, "password": {"mot-de-passe-" + name}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: %d", name, resp.StatusCode)
	}
	return b
}

// TestEditorFormOwnershipRefusals: the editor's pages and forms refuse
// the same writes with a 403 page naming the owner, in French.
func TestEditorFormOwnershipRefusals(t *testing.T) {
	f := newOrgFixture(t)
	for _, c := range []struct{ user, id, owner string }{
		{"bob", "kit-alice", "Centre social Les Tilleuls (tilleuls)"},
		{"carol", "kit-alice", "Centre social Les Tilleuls (tilleuls)"},
		{"alice", "kit-carol", "le compte carol"},
	} {
		b := loginAs(t, f.n.URL, c.user)
		resp, page := b.get("/editeur/r/" + c.id)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, c.owner) {
			t.Errorf("%s opening the form of %s: %d, want 403 naming %q", c.user, c.id, resp.StatusCode, c.owner)
		}
		_, home := b.get("/editeur")
		csrf := csrfOf(t, home)
		for _, post := range []struct {
			path string
			form url.Values
		}{
			{"/editeur/r/" + c.id, url.Values{"csrf": {csrf}, "title": {"Changé"}, "kind": {"tutorial"}, "license": {"CC-BY-SA-4.0"}, "language": {"fr"}}},
			{"/editeur/r/" + c.id + "/fichiers/supprimer", url.Values{"csrf": {csrf}, "name": {"guide.txt"}}},
			{"/editeur/r/" + c.id + "/supprimer", url.Values{"csrf": {csrf}}},
		} {
			resp, page := b.postForm(post.path, post.form)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, c.owner) {
				t.Errorf("%s posting %s: %d, want 403 naming %q", c.user, post.path, resp.StatusCode, c.owner)
			}
		}
		resp, page = b.postMultipart("/editeur/r/"+c.id+"/fichiers", [][2]string{{"csrf", csrf}}, map[string][]byte{"autre.txt": []byte("autre")})
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, c.owner) {
			t.Errorf("%s adding a file to %s: %d, want 403 naming %q", c.user, c.id, resp.StatusCode, c.owner)
		}
		r, err := f.n.Service.Get(context.Background(), c.id)
		if err != nil || r.Title == "Changé" || len(r.Files) != 1 {
			t.Fatalf("%s after refused forms: %+v, %v; want unchanged", c.id, r, err)
		}
	}
	// The admin may open any form, and chooses the organisation there.
	b := loginAs(t, f.n.URL, "root")
	resp, page := b.get("/editeur/r/kit-carol")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="organisation"`) || !strings.Contains(page, "Médiathèque du Port") {
		t.Fatalf("admin opening the form of kit-carol: %d, want 200 with a choice of organisation", resp.StatusCode)
	}
	resp, _ = b.postForm("/editeur/r/kit-carol", url.Values{"csrf": {csrfOf(t, page)}, "title": {"Kit carol"}, "kind": {"tutorial"},
		"license": {"CC-BY-SA-4.0"}, "language": {"fr"}, "organisation": {"mediatheque"}})
	if r, err := f.n.Service.Get(context.Background(), "kit-carol"); resp.StatusCode != http.StatusSeeOther || err != nil || r.Organisation != "mediatheque" {
		t.Fatalf("admin giving kit-carol to mediatheque from the form: %d, organisation %q, %v", resp.StatusCode, r.Organisation, err)
	}
	// An editor sees their organisation as text, and keeps it when saving.
	bob := loginAs(t, f.n.URL, "bob")
	resp, page = bob.get("/editeur/r/kit-carol")
	if resp.StatusCode != http.StatusOK || strings.Contains(page, `name="organisation"`) || !strings.Contains(page, "Organisation : Médiathèque du Port") {
		t.Fatalf("bob opening kit-carol, now his organisation's: %d, want 200 showing the organisation as text", resp.StatusCode)
	}
	resp, _ = bob.postForm("/editeur/r/kit-carol", url.Values{"csrf": {csrfOf(t, page)}, "title": {"Kit carol revu"}, "kind": {"tutorial"},
		"license": {"CC-BY-SA-4.0"}, "language": {"fr"}})
	if r, err := f.n.Service.Get(context.Background(), "kit-carol"); resp.StatusCode != http.StatusSeeOther || err != nil || r.Organisation != "mediatheque" || r.Title != "Kit carol revu" {
		t.Fatalf("bob saving kit-carol: %d, %+v, %v", resp.StatusCode, r, err)
	}
	// A new resource from alice's form is her organisation's.
	a := loginAs(t, f.n.URL, "alice")
	_, form := a.get("/editeur/nouveau")
	if !strings.Contains(form, "Organisation : Centre social Les Tilleuls") {
		t.Errorf("alice's new-resource form does not say which organisation publishes")
	}
	resp, _ = a.postMultipart("/editeur/nouveau", [][2]string{{"csrf", csrfOf(t, form)}, {"title", "Fiche des Tilleuls"}, {"kind", "tutorial"},
		{"license", "CC-BY-SA-4.0"}, {"language", "fr"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice publishing from the form: %d", resp.StatusCode)
	}
	r, err := f.n.Service.Get(context.Background(), "fiche-des-tilleuls")
	if err != nil || r.Organisation != "tilleuls" {
		t.Fatalf("resource from alice's form: organisation %q, %v; want tilleuls", r.Organisation, err)
	}
}

// TestOrganisationPage: the public page, French and English paths, shows
// the description, the resources, their count and this month's downloads,
// with schema.org JSON-LD; the API gives the same figures.
func TestOrganisationPage(t *testing.T) {
	f := newOrgFixture(t)
	n := f.n
	for range 2 {
		resp, err := http.Get(n.URL + "/r/kit-alice/files/guide.txt")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("download: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(n.URL + "/r/kit-alice.zip")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("zip: %v %v", err, resp)
	}
	resp.Body.Close()
	b := newBrowser(t, n.URL)
	for _, path := range []string{"/organisations/tilleuls", "/organizations/tilleuls"} {
		resp, page := b.get(path)
		for _, want := range []string{"Centre social Les Tilleuls", "Ateliers numériques du quartier.", "Kit alice", "1 ressource", "3 téléchargements",
			`"@type":"Organization"`} {
			if resp.StatusCode != 200 || !strings.Contains(page, want) {
				t.Errorf("%s: %d, missing %q", path, resp.StatusCode, want)
			}
		}
		if strings.Contains(page, "Kit carol") {
			t.Errorf("%s lists carol's resource, which has no organisation", path)
		}
	}
	if resp, _ := b.get("/organisations/inconnue"); resp.StatusCode != 404 {
		t.Errorf("unknown organisation page: %d, want 404", resp.StatusCode)
	}
	var d struct {
		Slug      string           `json:"slug"`
		Count     int              `json:"resource_count"`
		Downloads int              `json:"downloads_this_month"`
		Resources []map[string]any `json:"resources"`
	}
	call(t, "GET", n.URL+"/api/v1/organisations/tilleuls", "", "", nil, &d)
	if d.Count != 1 || d.Downloads != 3 || len(d.Resources) != 1 || d.Resources[0]["id"] != "kit-alice" {
		t.Errorf("API organisation: %+v, want 1 resource (kit-alice) and 3 downloads", d)
	}
	// The resource page credits the organisation with a link to its page.
	_, page := b.get("/r/kit-alice")
	if !strings.Contains(page, `href="/organisations/tilleuls"`) {
		t.Errorf("resource page lacks the link to its organisation")
	}
	if !strings.Contains(page, `"creator":{"@type":"Organization","name":"Centre social Les Tilleuls","url":"`+n.URL+`/organisations/tilleuls"}`) {
		t.Errorf("resource page's JSON-LD lacks its organisation as creator")
	}
}

// TestOrganisationFilters: organisation is a facet and a filter of the
// search API and page, and a filter of the browse page.
func TestOrganisationFilters(t *testing.T) {
	ctx := context.Background()
	n := testnode.Start(t, testnode.Options{Search: true})
	if _, err := n.Service.AddOrganisation(ctx, node.Organisation{Slug: "tilleuls", Name: "Centre social Les Tilleuls"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ id, org string }{{"fiche-tilleuls", "tilleuls"}, {"fiche-sans", ""}} {
		if _, err := n.Service.Create(ctx, node.Resource{ID: r.id, Metadata: node.Metadata{Title: "Fiche " + r.id, Kind: "practical-sheet",
			License: "CC0-1.0", Organisation: r.org}}); err != nil {
			t.Fatal(err)
		}
	}
	var res struct {
		Total  int `json:"total"`
		Hits   []struct{ ID, Organisation string }
		Facets map[string][]node.FacetCount `json:"facets"`
	}
	testenv.Eventually(t, 10*time.Second, "both indexed", func() bool {
		call(t, "GET", n.URL+"/api/v1/search?sort=newest", "", "", nil, &res)
		return res.Total == 2
	})
	if f := res.Facets["organisation"]; len(f) != 1 || f[0] != (node.FacetCount{Value: "tilleuls", Count: 1}) {
		t.Errorf("organisation facet %v, want tilleuls: 1", f)
	}
	call(t, "GET", n.URL+"/api/v1/search?organisation=tilleuls", "", "", nil, &res)
	if res.Total != 1 || res.Hits[0].ID != "fiche-tilleuls" || res.Hits[0].Organisation != "tilleuls" {
		t.Errorf("search filtered by organisation: %+v", res)
	}
	b := newBrowser(t, n.URL)
	_, page := b.get("/recherche?organisation=tilleuls")
	if !strings.Contains(page, "Centre social Les Tilleuls") || strings.Contains(page, "Fiche fiche-sans") {
		t.Errorf("search page filtered by organisation lacks its name or shows another's resource")
	}
	_, page = b.get("/ressources?organisation=tilleuls")
	if !strings.Contains(page, "Fiche fiche-tilleuls") || strings.Contains(page, "Fiche fiche-sans") {
		t.Errorf("browse page filtered by organisation")
	}
	if resp, _ := b.get("/ressources?organisation=inconnue"); resp.StatusCode != 404 {
		t.Errorf("browse by unknown organisation: %d, want 404", resp.StatusCode)
	}
}
