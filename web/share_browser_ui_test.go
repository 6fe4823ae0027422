package web_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestBrowserShareForm: an editor shares a copy from another hub with the
// page's button, by keyboard only (no JavaScript needed: a form POST);
// the page, with the form before and after, passes axe-core at a 320 px
// phone width and on a desktop without sideways scrolling.
func TestBrowserShareForm(t *testing.T) {
	b := browsertest.New(t)
	n := testnode.Start(t, testnode.Options{})
	sharer := &fakeSharer{shares: map[string]node.Share{}}
	n.Service.SetSharer(sharer)
	ctx0 := context.Background()
	if err := n.Service.SetPassword(ctx0, "editor", editorPassword); err != nil {
		t.Fatal(err)
	}
	origin := "https://hub-a.example/r/fiche-wifi"
	cp, err := n.Service.SaveRemote(ctx0, node.Resource{ID: node.RemoteID(origin, "fiche-wifi"), Origin: origin,
		Metadata: node.Metadata{Title: "Se connecter au wifi", Summary: "Une fiche pas à pas.", Kind: "practical-sheet", License: "CC-BY-4.0", Hub: "hub-a"},
		SharedBy: "hub-b"}, nil, node.Mirror{})
	if err != nil {
		t.Fatal(err)
	}
	page := n.URL + "/r/" + cp.ID
	ctx := b.Tab(t)
	login(t, ctx, n.URL)
	shareByKeyboard(t, b, ctx, page, "Kit partagé avec les hubs abonnés.")
	if shared(sharer) != 1 {
		t.Fatalf("the button shared %d copies, want 1", shared(sharer))
	}
	checkAxeHere(t, b, ctx, "copy page after sharing (undo form)")
}

// shareByKeyboard opens a copy's page at a phone and a desktop width
// (axe-core, no sideways scrolling), then presses its share button by
// keyboard and checks the notice the page answers with.
func shareByKeyboard(t *testing.T, b *browsertest.Browser, ctx context.Context, page, notice string) {
	t.Helper()
	for _, w := range []struct {
		name          string
		width, height int64
	}{{"320", 320, 640}, {"desktop", 1280, 900}} {
		browsertest.Do(t, ctx, "viewport "+w.name, chromedp.EmulateViewport(w.width, w.height))
		checkAxe(t, b, ctx, page, "copy page with the share form at "+w.name)
		if sw := eval[int](t, ctx, `document.documentElement.scrollWidth`); sw > int(w.width) {
			t.Errorf("copy page is %d px wide on a %d px screen", sw, w.width)
		}
	}
	browsertest.Do(t, ctx, "share by keyboard",
		chromedp.Focus(chromedp.CSS(`form#partager button[type=submit]`)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`form#partager .notice`)))
	if got := text(t, ctx, "form#partager .notice"); got != notice {
		t.Errorf("after sharing: notice %q, want %q", got, notice)
	}
}
