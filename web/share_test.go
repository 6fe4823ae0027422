package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// fakeSharer records shares as the federation would, without sending.
type fakeSharer struct {
	mu     sync.Mutex
	shares map[string]node.Share
	sent   int
}

func (f *fakeSharer) Share(ctx context.Context, r node.Resource) (node.Share, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sh, ok := f.shares[r.Origin]; ok {
		return sh, nil
	}
	f.sent++
	sh := node.Share{Resource: r.ID, Object: r.Origin, Activity: fmt.Sprintf("https://b.example/activities/announce/%d", f.sent), Shared: time.Now().UTC()}
	f.shares[r.Origin] = sh
	return sh, nil
}

func (f *fakeSharer) Unshare(ctx context.Context, r node.Resource) (node.Share, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sh, ok := f.shares[r.Origin]
	if !ok {
		return sh, fmt.Errorf("not shared: %w", node.ErrNotFound)
	}
	delete(f.shares, r.Origin)
	return sh, nil
}

func (f *fakeSharer) Shared(ctx context.Context, r node.Resource) (node.Share, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sh, ok := f.shares[r.Origin]
	if !ok {
		return sh, fmt.Errorf("not shared: %w", node.ErrNotFound)
	}
	return sh, nil
}

// count is how many copies are shared and how many Announces were sent.
func (f *fakeSharer) count() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.shares), f.sent
}

func shareCall(t *testing.T, method, rawURL, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, rawURL, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestShareAPIAndPage: an editor shares a copy from another hub through
// the API (a second share is the first), takes it back, and cannot share a
// local resource (409 with the reason) nor act without a token; on the
// copy's page an editor gets the "Partager avec les hubs abonnés" form
// (CSRF checked, works without JavaScript), a visitor does not, and a copy
// received through a share says which hub shared it.
func TestShareAPIAndPage(t *testing.T) {
	ctx := context.Background()
	n := testnode.Start(t, testnode.Options{})
	sharer := &fakeSharer{shares: map[string]node.Share{}}
	n.Service.SetSharer(sharer)
	origin := "https://hub-a.example/r/fiche-wifi"
	cp, err := n.Service.SaveRemote(ctx, node.Resource{ID: node.RemoteID(origin, "fiche-wifi"), Origin: origin,
		Metadata: node.Metadata{Title: "Se connecter au wifi", Kind: "practical-sheet", License: "CC-BY-4.0", Hub: "hub-a"}, SharedBy: "hub-b"}, nil, node.Mirror{})
	if err != nil {
		t.Fatal(err)
	}
	local, err := n.Service.Publish(ctx, node.Resource{ID: "fiche-locale", Metadata: node.Metadata{Title: "Fiche locale", Kind: "practical-sheet", License: "CC-BY-4.0"}}, func(func(node.Upload) error) error { return nil }, false)
	if err != nil {
		t.Fatal(err)
	}
	api := n.URL + "/api/v1/resources/"

	if st, _ := shareCall(t, "POST", api+cp.ID+"/share", ""); st != http.StatusUnauthorized {
		t.Errorf("share without a token: %d, want 401", st)
	}
	st, out := shareCall(t, "POST", api+cp.ID+"/share", n.Token)
	if st != http.StatusOK || out["object"] != origin || out["resource"] != cp.ID {
		t.Fatalf("share: %d %v", st, out)
	}
	first := out["activity"]
	if st, out = shareCall(t, "POST", api+cp.ID+"/share", n.Token); st != http.StatusOK || out["activity"] != first || sent(sharer) != 1 {
		t.Fatalf("second share: %d %v (%d Announces sent), want the first and one Announce", st, out, sent(sharer))
	}
	st, out = shareCall(t, "POST", api+local.ID+"/share", n.Token)
	if st != http.StatusConflict || fmt.Sprint(out) == "" {
		t.Fatalf("share of a local resource: %d %v, want 409", st, out)
	}
	if msg := fmt.Sprint(out["error"]); !strings.Contains(msg, "only a copy received from another hub can be shared") {
		t.Errorf("409 without the reason: %s", msg)
	}
	if st, _ := shareCall(t, "POST", api+"absente/share", n.Token); st != http.StatusNotFound {
		t.Errorf("share of an unknown resource: %d, want 404", st)
	}
	if st, _ := shareCall(t, "DELETE", api+cp.ID+"/share", n.Token); st != http.StatusNoContent {
		t.Fatalf("undo: %d, want 204", st)
	}
	if st, _ := shareCall(t, "DELETE", api+cp.ID+"/share", n.Token); st != http.StatusNotFound {
		t.Fatalf("undo of what is not shared: %d, want 404", st)
	}

	// The page: a visitor sees who shared the copy, no form.
	b := newBrowser(t, n.URL)
	resp, body := b.get("/r/" + cp.ID)
	wantStatus(t, "copy page", resp, body, 200)
	wantIn(t, "copy page", body, "partagé par hub-b")
	wantNotIn(t, "copy page for a visitor", body, "Partager avec les hubs abonnés")
	if err := n.Service.SetPassword(ctx, "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	loginCookie(t, b, "un-mot-de-passe-solide")
	resp, body = b.get("/r/" + cp.ID)
	wantStatus(t, "copy page for an editor", resp, body, 200)
	wantIn(t, "copy page for an editor", body, "Partager avec les hubs abonnés", `action="/r/`+cp.ID+`/partage"`)
	token := csrfOf(t, body)
	_, body = b.get("/r/" + local.ID)
	wantNotIn(t, "local page for an editor", body, "Partager avec les hubs abonnés")

	resp, body = b.postForm("/r/"+cp.ID+"/partage", url.Values{"csrf": {"faux"}})
	wantStatus(t, "share form with a wrong CSRF token", resp, body, 403)
	if shared(sharer) != 0 {
		t.Fatal("a refused form shared the copy")
	}
	resp, _ = b.postForm("/r/"+cp.ID+"/partage", url.Values{"csrf": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/r/"+cp.ID+"?partage=ok#partager" {
		t.Fatalf("share form: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if shared(sharer) != 1 {
		t.Fatal("the form did not share the copy")
	}
	_, body = b.get("/r/" + cp.ID + "?partage=ok")
	wantIn(t, "page after sharing", body, "Kit partagé avec les hubs abonnés.", "Annuler le partage", `name="annuler" value="1"`)
	resp, _ = b.postForm("/r/"+cp.ID+"/partage", url.Values{"csrf": {token}, "annuler": {"1"}})
	if resp.StatusCode != http.StatusSeeOther || shared(sharer) != 0 {
		t.Fatalf("undo form: %d, %d shares left", resp.StatusCode, shared(sharer))
	}
}

func shared(f *fakeSharer) int { n, _ := f.count(); return n }

func sent(f *fakeSharer) int { _, n := f.count(); return n }
