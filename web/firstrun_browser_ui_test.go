package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
	"github.com/communs-numerique/communs/internal/testnode"
)

// TestBrowserFirstRun: the empty node's home page, with its first-run
// advice, passes axe-core in French and English and fits a 320 px screen
// (the long commands wrap instead of scrolling the page sideways).
func TestBrowserFirstRun(t *testing.T) {
	b := browsertest.New(t)
	n := testnode.Start(t, testnode.Options{Search: true})
	ctx := b.Tab(t)
	checkAxe(t, b, ctx, n.URL+"/", "/ (empty node)")
	if got := text(t, ctx, "#h-first-run"); got != "Premiers pas sur ce hub" {
		t.Errorf("first-run heading %q", got)
	}
	browsertest.Do(t, ctx, "English", chromedp.Navigate(n.URL+"/langue/en?retour=/"))
	checkAxeHere(t, b, ctx, "/ (empty node, en)")
	browsertest.Do(t, ctx, "phone width", chromedp.EmulateViewport(320, 640), chromedp.Navigate(n.URL+"/"))
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 320 {
		t.Errorf("empty home page is %d px wide on a 320 px screen", w)
	}
	t.Logf("%s", b.Screenshot(t, ctx, "first-run-320"))
}
