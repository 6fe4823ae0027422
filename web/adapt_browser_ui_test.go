package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
)

// TestBrowserAdaptFlow: an editor opens a kit, presses "Adapter ce kit"
// and lands in the editor of the new resource, whose page credits the
// source; every page of the flow passes axe-core, and a NoDerivatives
// kit says why it cannot be adapted instead of showing the button.
func TestBrowserAdaptFlow(t *testing.T) {
	b := browsertest.New(t)
	n, _ := adaptFixture(t)
	base := n.URL
	ctx := b.Tab(t)
	browserLogin(t, ctx, base, "bob", "mot-de-passe-bob")
	checkAxe(t, b, ctx, base+"/r/kit-sa", "/r/kit-sa with the adapt form")
	browsertest.Do(t, ctx, "name the adaptation", chromedp.SendKeys(chromedp.ID("adapt-title"), "Kit séniors de la médiathèque"))
	browsertest.Navigating(t, ctx, "adapt", chromedp.Click(chromedp.CSS(`form[action="/r/kit-sa/adapter"] button[type=submit]`)))
	loc := location(t, ctx)
	id, ok := strings.CutPrefix(loc, base+"/editeur/r/")
	id, _, _ = strings.Cut(id, "?")
	if !ok || id == "" || id == "kit-sa" {
		t.Fatalf("after adapting: at %s, want the editor of the new resource", loc)
	}
	checkAxeHere(t, b, ctx, "editor of the adaptation")
	if v := browsertest.Run(t, ctx, "title field", chromedp.Value(chromedp.ID("f-title"))); v != "Kit séniors de la médiathèque" {
		t.Errorf("editor's title field %q", v)
	}
	checkAxe(t, b, ctx, base+"/r/"+id, "the adaptation's page")
	if got := text(t, ctx, ".adaptations .chain"); !strings.Contains(got, "Adapté de « Kit kit-sa » par Awa Diallo") || !strings.Contains(got, "CC BY-SA 4.0") {
		t.Errorf("attribution on the adaptation's page: %q", got)
	}
	browsertest.Do(t, ctx, "viewport 320", chromedp.EmulateViewport(320, 640))
	checkAxe(t, b, ctx, base+"/r/kit-sa", "/r/kit-sa at 320 px")
	if sw := eval[int](t, ctx, `document.documentElement.scrollWidth`); sw > 320 {
		t.Errorf("the page with the adapt form is %d px wide on a 320 px screen", sw)
	}
	browsertest.Do(t, ctx, "English", chromedp.Navigate(base+"/langue/en?retour=/r/"+id))
	checkAxeHere(t, b, ctx, "the adaptation's page in English")
	if got := text(t, ctx, ".adaptations .chain"); !strings.Contains(got, "Adapted from") {
		t.Errorf("English attribution: %q", got)
	}
	browsertest.Do(t, ctx, "French", chromedp.Navigate(base+"/langue/fr?retour=/"), chromedp.EmulateViewport(1280, 900))
	checkAxe(t, b, ctx, base+"/r/kit-nd", "/r/kit-nd (NoDerivatives)")
	if got := text(t, ctx, ".adaptations"); !strings.Contains(got, "ne peut pas être adapté") {
		t.Errorf("ND kit: %q, want the rule", got)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll('form[action$="/adapter"]').length`); n != 0 {
		t.Errorf("ND kit shows %d adapt forms", n)
	}
}
