package web_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestBrowserCollectionShareForm: an editor shares a collection copied
// from another hub with its page's button, then takes the share back, by
// keyboard only (form POSTs, no JavaScript); the page passes axe-core at
// 320 px and on a desktop, before sharing, after, and after the undo.
func TestBrowserCollectionShareForm(t *testing.T) {
	b := browsertest.New(t)
	n := testnode.Start(t, testnode.Options{})
	sharer := fakeCollectionSharer{&fakeSharer{shares: map[string]node.Share{}}}
	n.Service.SetSharer(sharer)
	ctx0 := context.Background()
	if err := n.Service.SetPassword(ctx0, "editor", editorPassword); err != nil {
		t.Fatal(err)
	}
	origin := "https://hub-a.example/collections/parcours-e-mail"
	cp, err := n.Service.SaveRemoteCollection(ctx0, node.Collection{ID: "parcours-e-mail", Origin: origin,
		Title: "Parcours e-mail", Summary: "Trois ateliers pour débuter.", Hub: "hub-a", SharedBy: "hub-b"})
	if err != nil {
		t.Fatal(err)
	}
	page := n.URL + "/collections/" + cp.ID
	ctx := b.Tab(t)
	login(t, ctx, n.URL)
	shareByKeyboard(t, b, ctx, page, "Collection partagée avec les hubs abonnés.")
	if shared(sharer.fakeSharer) != 1 {
		t.Fatalf("the button shared %d collections, want 1", shared(sharer.fakeSharer))
	}
	checkAxeHere(t, b, ctx, "collection copy after sharing (undo form)")
	browsertest.Do(t, ctx, "undo by keyboard",
		chromedp.Focus(chromedp.CSS(`form#partager button[type=submit]`)),
		chromedp.KeyEvent("\r"),
		// The page after the undo offers to share again.
		chromedp.WaitVisible(chromedp.CSS(`form#partager button[type=submit]:not(.secondary)`)))
	if got := text(t, ctx, "form#partager .notice"); got != "Partage annulé." {
		t.Errorf("after the undo: notice %q", got)
	}
	if shared(sharer.fakeSharer) != 0 {
		t.Errorf("after the undo %d collections are still shared, want 0", shared(sharer.fakeSharer))
	}
	checkAxeHere(t, b, ctx, "collection copy after the undo")
}
