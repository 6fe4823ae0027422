package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
)

// TestBrowserEditorReports: the editor home and the edit page listing
// open reports pass axe-core at a 320 px phone width and on a desktop,
// without sideways scrolling, and a message keeps its line breaks as
// text.
func TestBrowserEditorReports(t *testing.T) {
	b := browsertest.New(t)
	f := newOrgFixture(t)
	addEditorReports(t, f)
	base := f.n.URL
	ctx := b.Tab(t)
	browserLogin(t, ctx, base, "root", "mot-de-passe-root")
	for _, w := range []struct {
		name          string
		width, height int64
	}{{"320", 320, 640}, {"desktop", 1280, 900}} {
		browsertest.Do(t, ctx, "viewport "+w.name, chromedp.EmulateViewport(w.width, w.height))
		for _, path := range []string{"/editeur", "/editeur/r/kit-alice"} {
			checkAxe(t, b, ctx, base+path, path+" with open reports at "+w.name)
			if n := eval[int](t, ctx, `document.querySelectorAll(".report-message").length`); n == 0 {
				t.Errorf("%s at %s shows no report", path, w.name)
			}
			if sw := eval[int](t, ctx, `document.documentElement.scrollWidth`); sw > int(w.width) {
				wide := eval[string](t, ctx, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > innerWidth).map(e => e.tagName+"."+e.className+"#"+e.id).slice(0,8).join(" ")`)
				t.Errorf("%s is %d px wide on a %d px screen: %s", path, sw, w.width, wide)
			}
		}
	}
	// The hostile message is text, its line break kept by CSS.
	if n := eval[int](t, ctx, `document.querySelectorAll("main script").length`); n != 0 {
		t.Errorf("%d script elements in the edit page's main", n)
	}
	got := eval[string](t, ctx, `[...document.querySelectorAll(".report-message")].map(e => e.innerText).join("|")`)
	if want := "Le PDF est illisible.\nPage 3 <script>alert(1)</script>"; !strings.Contains(got, want) {
		t.Errorf("messages as rendered %q, want one %q", got, want)
	}
}
