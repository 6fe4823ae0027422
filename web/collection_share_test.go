package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// fakeCollectionSharer is fakeSharer for collections too, keyed by the
// origin's object id as the federation does.
type fakeCollectionSharer struct{ *fakeSharer }

func (f fakeCollectionSharer) ShareCollection(ctx context.Context, c node.Collection) (node.Share, error) {
	return f.Share(ctx, node.Resource{ID: c.ID, Origin: c.Origin})
}

func (f fakeCollectionSharer) UnshareCollection(ctx context.Context, c node.Collection) (node.Share, error) {
	return f.Unshare(ctx, node.Resource{ID: c.ID, Origin: c.Origin})
}

func (f fakeCollectionSharer) SharedCollection(ctx context.Context, c node.Collection) (node.Share, error) {
	return f.Shared(ctx, node.Resource{ID: c.ID, Origin: c.Origin})
}

// TestCollectionShareAPIAndPage: an editor shares a collection copy from
// another hub through the API (a second share is the first) and takes it
// back; a local collection is a 409 with the reason; no token is a 401.
// On the copy's page an editor gets the "Partager avec les hubs abonnés"
// form (CSRF checked, no JavaScript), a visitor does not but sees which
// hub shared it, and a local collection's page has no form.
func TestCollectionShareAPIAndPage(t *testing.T) {
	ctx := context.Background()
	n := testnode.Start(t, testnode.Options{})
	sharer := fakeCollectionSharer{&fakeSharer{shares: map[string]node.Share{}}}
	n.Service.SetSharer(sharer)
	origin := "https://hub-a.example/collections/parcours-e-mail"
	cp, err := n.Service.SaveRemoteCollection(ctx, node.Collection{ID: "parcours-e-mail", Origin: origin, Title: "Parcours e-mail", Hub: "hub-a", SharedBy: "hub-b"})
	if err != nil {
		t.Fatal(err)
	}
	local, err := n.Service.CreateCollection(ctx, node.Collection{Title: "Collection locale"})
	if err != nil {
		t.Fatal(err)
	}
	api := n.URL + "/api/v1/collections/"
	if st, out := shareCall(t, "GET", api+cp.ID, ""); st != http.StatusOK || out["shared_by"] != "hub-b" {
		t.Fatalf("GET of the copy: %d, shared_by %v, want hub-b", st, out["shared_by"])
	}

	if st, _ := shareCall(t, "POST", api+cp.ID+"/share", ""); st != http.StatusUnauthorized {
		t.Errorf("share without a token: %d, want 401", st)
	}
	st, out := shareCall(t, "POST", api+cp.ID+"/share", n.Token)
	if st != http.StatusOK || out["object"] != origin || out["resource"] != cp.ID {
		t.Fatalf("share: %d %v", st, out)
	}
	first := out["activity"]
	if st, out = shareCall(t, "POST", api+cp.ID+"/share", n.Token); st != http.StatusOK || out["activity"] != first || sent(sharer.fakeSharer) != 1 {
		t.Fatalf("second share: %d %v, want the first and one Announce", st, out)
	}
	st, out = shareCall(t, "POST", api+local.ID+"/share", n.Token)
	if st != http.StatusConflict {
		t.Fatalf("share of a local collection: %d %v, want 409", st, out)
	}
	if msg := fmt.Sprint(out["error"]); !strings.Contains(msg, "only a copy received from another hub can be shared") {
		t.Errorf("409 without the reason: %s", msg)
	}
	if shared(sharer.fakeSharer) != 1 {
		t.Fatal("a refused share was recorded")
	}
	if st, _ := shareCall(t, "POST", api+"absente/share", n.Token); st != http.StatusNotFound {
		t.Errorf("share of an unknown collection: %d, want 404", st)
	}
	if st, _ := shareCall(t, "DELETE", api+cp.ID+"/share", n.Token); st != http.StatusNoContent {
		t.Fatalf("undo: %d, want 204", st)
	}
	if st, _ := shareCall(t, "DELETE", api+cp.ID+"/share", n.Token); st != http.StatusNotFound {
		t.Fatalf("undo of what is not shared: %d, want 404", st)
	}

	b := newBrowser(t, n.URL)
	resp, body := b.get("/collections/" + cp.ID)
	wantStatus(t, "copy page", resp, body, 200)
	wantIn(t, "copy page", body, "partagé par hub-b")
	wantNotIn(t, "copy page for a visitor", body, "Partager avec les hubs abonnés")
	if err := n.Service.SetPassword(ctx, "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	loginCookie(t, b, "un-mot-de-passe-solide")
	resp, body = b.get("/collections/" + cp.ID)
	wantStatus(t, "copy page for an editor", resp, body, 200)
	wantIn(t, "copy page for an editor", body, "Partager avec les hubs abonnés", `action="/collections/`+cp.ID+`/partage"`)
	token := csrfOf(t, body)
	_, body = b.get("/collections/" + local.ID)
	wantNotIn(t, "local collection page for an editor", body, "Partager avec les hubs abonnés")

	resp, body = b.postForm("/collections/"+cp.ID+"/partage", url.Values{"csrf": {"faux"}})
	wantStatus(t, "share form with a wrong CSRF token", resp, body, 403)
	if shared(sharer.fakeSharer) != 0 {
		t.Fatal("a refused form shared the collection")
	}
	resp, _ = b.postForm("/collections/"+cp.ID+"/partage", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/collections/"+cp.ID+"?partage=ok#partager" {
		t.Fatalf("share form: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if shared(sharer.fakeSharer) != 1 {
		t.Fatal("the form did not share the collection")
	}
	_, body = b.get("/collections/" + cp.ID + "?partage=ok")
	wantIn(t, "page after sharing", body, "Collection partagée avec les hubs abonnés.", "Annuler le partage", `name="annuler" value="1"`)
	resp, _ = b.postForm("/collections/"+cp.ID+"/partage", url.Values{"csrf": {token}, "annuler": {"1"}})
	if resp.StatusCode != http.StatusSeeOther || shared(sharer.fakeSharer) != 0 {
		t.Fatalf("undo form: %d, %d shares left", resp.StatusCode, shared(sharer.fakeSharer))
	}
	resp, body = b.postForm("/collections/"+local.ID+"/partage", url.Values{"csrf": {token}})
	wantStatus(t, "share form of a local collection", resp, body, 409)
}
