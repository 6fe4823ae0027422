package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// adaptFixture: a hub that also accepts CC BY-ND (to test its refusal),
// with alice (editor of tilleuls) and bob (editor of mediatheque);
// alice published kit-sa (CC BY-SA 4.0, one file) and kit-nd (CC BY-ND).
func adaptFixture(t *testing.T) (*testnode.Node, map[string]string) {
	t.Helper()
	ctx := context.Background()
	n := testnode.Start(t, testnode.Options{Allow: []string{"CC-BY-ND-4.0"}})
	for _, o := range []node.Organisation{{Slug: "tilleuls", Name: "Centre social Les Tilleuls"}, {Slug: "mediatheque", Name: "Médiathèque du Port"}} {
		if _, err := n.Service.AddOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]string{}
	for _, u := range []struct{ name, org string }{{"alice", "tilleuls"}, {"bob", "mediatheque"}} {
		_, tok, err := n.Service.AddUser(ctx, u.name, node.RoleEditor)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Service.SetUserOrganisation(ctx, u.name, u.org); err != nil {
			t.Fatal(err)
		}
		if err := n.Service.SetPassword(ctx, u.name, "mot-de-passe-"+u.name); err != nil {
			t.Fatal(err)
		}
		tokens[u.name] = tok
	}
	for _, k := range []struct{ id, lic string }{{"kit-sa", "CC-BY-SA-4.0"}, {"kit-nd", "CC-BY-ND-4.0"}} {
		body := fmt.Sprintf(`{"id":%q,"title":"Kit %s","kind":"tutorial","license":%q,"authors":["Awa Diallo"]}`, k.id, k.id, k.lic)
		if resp := call(t, "POST", n.URL+"/api/v1/resources", tokens["alice"], "application/json", strings.NewReader(body), nil); resp.StatusCode != 201 {
			t.Fatalf("publish %s: %d", k.id, resp.StatusCode)
		}
		if resp := call(t, "PUT", n.URL+"/api/v1/resources/"+k.id+"/files/guide.txt", tokens["alice"], "text/plain", strings.NewReader("guide "+k.id), nil); resp.StatusCode != 201 {
			t.Fatalf("upload to %s: %d", k.id, resp.StatusCode)
		}
	}
	return n, tokens
}

// TestAPIAdapt: 201 with the chain and the editor's organisation; 409
// for NoDerivatives with the rule; 400 naming the rule for an
// incompatible licence change; 403 for another organisation's editor on
// the adaptation; 404 for a gone source; 401 without a token. Refusals
// create nothing.
func TestAPIAdapt(t *testing.T) {
	n, tok := adaptFixture(t)
	ctx := context.Background()
	var got map[string]any
	resp := call(t, "POST", n.URL+"/api/v1/resources/kit-sa/adapt", tok["bob"], "application/json", strings.NewReader(`{"title":"Kit pour la médiathèque"}`), &got)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("adapt: %d %v", resp.StatusCode, got)
	}
	id, _ := got["id"].(string)
	if resp.Header.Get("Location") != n.URL+"/r/"+id || got["organisation"] != "mediatheque" || got["title"] != "Kit pour la médiathèque" {
		t.Errorf("adaptation: Location %q, %v", resp.Header.Get("Location"), got)
	}
	chain, _ := got["based_on"].([]any)
	if len(chain) != 1 {
		t.Fatalf("based_on = %v", got["based_on"])
	}
	if link := chain[0].(map[string]any); link["url"] != n.URL+"/r/kit-sa" || link["title"] != "Kit kit-sa" || link["license"] != "CC-BY-SA-4.0" {
		t.Errorf("based_on[0] = %v", link)
	}
	// Without a body: the source's title.
	resp = call(t, "POST", n.URL+"/api/v1/resources/kit-sa/adapt", tok["alice"], "", nil, &got)
	if resp.StatusCode != http.StatusCreated || got["title"] != "Kit kit-sa" {
		t.Errorf("adapt without body: %d %v", resp.StatusCode, got["title"])
	}

	before, _ := n.Service.Count(ctx)
	for _, c := range []struct {
		name, path, token string
		status            int
		code, words       string
	}{
		{"NoDerivatives", "/api/v1/resources/kit-nd/adapt", tok["bob"], http.StatusConflict, "conflict", "NoDerivatives"},
		{"gone source", "/api/v1/resources/disparu/adapt", tok["bob"], http.StatusNotFound, "not_found", ""},
		{"no token", "/api/v1/resources/kit-sa/adapt", "", http.StatusUnauthorized, "unauthorized", ""},
	} {
		var e errBody
		resp := call(t, "POST", n.URL+c.path, c.token, "", nil, &e)
		if resp.StatusCode != c.status || e.Error.Code != c.code || !strings.Contains(e.Error.Message, c.words) {
			t.Errorf("%s: %d %+v; want %d %s with %q", c.name, resp.StatusCode, e.Error, c.status, c.code, c.words)
		}
	}
	var e errBody
	call(t, "POST", n.URL+"/api/v1/resources/kit-nd/adapt", tok["bob"], "", nil, &e)
	if !strings.Contains(e.Error.Message, "pas de modification") {
		t.Errorf("the ND refusal %q does not state the rule in French", e.Error.Message)
	}
	if after, _ := n.Service.Count(ctx); after != before {
		t.Errorf("refused adaptations created resources: %d -> %d", before, after)
	}

	// The licence of the adaptation follows the ShareAlike rule.
	resp = call(t, "PATCH", n.URL+"/api/v1/resources/"+id, tok["bob"], "application/json", strings.NewReader(`{"license":"CC-BY-4.0"}`), &e)
	if resp.StatusCode != http.StatusBadRequest || e.Error.Field != "license" || !strings.Contains(e.Error.Message, "CC BY-SA 4.0") || !strings.Contains(e.Error.Message, "ShareAlike") {
		t.Errorf("incompatible licence change: %d %+v; want 400 on license naming the rule", resp.StatusCode, e.Error)
	}
	if resp := call(t, "PATCH", n.URL+"/api/v1/resources/"+id, tok["bob"], "application/json", strings.NewReader(`{"license":"LAL-1.3"}`), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("compatible licence change: %d", resp.StatusCode)
	}
	// Another organisation's editor may not change it.
	resp = call(t, "PATCH", n.URL+"/api/v1/resources/"+id, tok["alice"], "application/json", strings.NewReader(`{"summary":"non"}`), &e)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(e.Error.Message, "Médiathèque du Port") {
		t.Errorf("alice on bob's adaptation: %d %+v; want 403 naming the owner", resp.StatusCode, e.Error)
	}

	// The zip credits the source.
	r, err := http.Get(n.URL + "/r/" + id + ".zip")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r.Body)
	r.Body.Close()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var licence, guide string
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		switch f.Name {
		case "LICENCE.txt":
			licence = string(b)
		case "guide.txt":
			guide = string(b)
		}
	}
	if guide != "guide kit-sa" {
		t.Errorf("the adaptation's file holds %q", guide)
	}
	if !strings.Contains(licence, "Adapté de « Kit kit-sa » par Awa Diallo") || !strings.Contains(licence, n.URL+"/r/kit-sa") {
		t.Errorf("LICENCE.txt lacks the chain:\n%s", licence)
	}
}

// TestAdaptForm: the page's form works without JavaScript (a plain POST
// with the CSRF token, then a redirect to the editor of the new
// resource) and refuses a POST without the token, creating nothing.
func TestAdaptForm(t *testing.T) {
	n, _ := adaptFixture(t)
	b := loginAs(t, n.URL, "bob")
	_, page := b.get("/r/kit-sa")
	if !strings.Contains(page, `action="/r/kit-sa/adapter"`) {
		t.Fatal("the page has no adapt form for an editor")
	}
	before, _ := n.Service.Count(context.Background())
	resp, _ := b.postForm("/r/kit-sa/adapter", url.Values{"title": {"Sans jeton"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without CSRF token: %d, want 403", resp.StatusCode)
	}
	if after, _ := n.Service.Count(context.Background()); after != before {
		t.Fatalf("a refused form created a resource")
	}
	resp, _ = b.postForm("/r/kit-sa/adapter", url.Values{"csrf": {csrfOf(t, page)}, "title": {"Version médiathèque"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/editeur/r/version-mediatheque") {
		t.Fatalf("adapt form: %d to %q, want 303 to the new resource's editor", resp.StatusCode, loc)
	}
	r, err := n.Service.Get(context.Background(), "version-mediatheque")
	if err != nil || r.Organisation != "mediatheque" || len(r.BasedOn) != 1 {
		t.Fatalf("created %+v, %v", r, err)
	}
	// Its editor offers only the licences the source's rule allows, and
	// refuses another one posted anyway, naming the rule.
	_, edit := b.get("/editeur/r/version-mediatheque")
	if !strings.Contains(edit, `value="LAL-1.3"`) || strings.Contains(edit, `value="CC-BY-4.0"`) {
		t.Error("the adaptation's licence menu is not limited to CC BY-SA 4.0 and its compatible licences")
	}
	form := url.Values{"csrf": {csrfOf(t, edit)}, "title": {"Version médiathèque"}, "kind": {"tutorial"}, "license": {"CC-BY-4.0"}, "language": {"fr"}}
	resp, body := b.postForm("/editeur/r/version-mediatheque", form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "ne peut pas passer sous CC-BY-4.0") {
		t.Errorf("editor form with an incompatible licence: %d, want 400 naming the rule:\n%s", resp.StatusCode, body)
	}
	if r, _ := n.Service.Get(context.Background(), "version-mediatheque"); r.License != "CC-BY-SA-4.0" {
		t.Errorf("licence changed to %s", r.License)
	}
	// A visitor sees no form.
	anon := newBrowser(t, n.URL)
	if _, page := anon.get("/r/kit-sa"); strings.Contains(page, "/adapter") {
		t.Error("a visitor sees the adapt form")
	}
}
