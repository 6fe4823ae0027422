package web_test

import (
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
)

// TestBrowserOrganisationPage: an organisation's page, with its counts and
// resources, passes axe-core in French and English, at a 320 px phone
// width and on a desktop, without sideways scrolling; so does the 403
// page naming the owner that an editor of another organisation gets.
func TestBrowserOrganisationPage(t *testing.T) {
	b := browsertest.New(t)
	f := newOrgFixture(t)
	base := f.n.URL
	ctx := b.Tab(t)
	for _, w := range []struct {
		name          string
		width, height int64
	}{{"320", 320, 640}, {"desktop", 1280, 900}} {
		browsertest.Do(t, ctx, "viewport "+w.name, chromedp.EmulateViewport(w.width, w.height))
		checkAxe(t, b, ctx, base+"/organisations/tilleuls", "/organisations/tilleuls at "+w.name)
		if got := text(t, ctx, "h1"); got != "Centre social Les Tilleuls" {
			t.Errorf("organisation page h1 %q", got)
		}
		if sw := eval[int](t, ctx, `document.documentElement.scrollWidth`); sw > int(w.width) {
			t.Errorf("organisation page is %d px wide on a %d px screen", sw, w.width)
		}
		if dir := os.Getenv("COMMUNS_DOC_SCREENSHOTS"); dir != "" {
			t.Logf("%s", browsertest.ScreenshotAt(t, ctx, dir, "organisation-"+w.name, w.width, w.height, w.width < 400))
		}
	}
	checkAxe(t, b, ctx, base+"/r/kit-alice", "/r/kit-alice with its organisation")
	browsertest.Do(t, ctx, "English", chromedp.Navigate(base+"/langue/en?retour=/organizations/tilleuls"))
	checkAxeHere(t, b, ctx, "/organizations/tilleuls (en)")
	browsertest.Do(t, ctx, "French", chromedp.Navigate(base+"/langue/fr?retour=/"))

	// The refusal page of an editor of another organisation.
	browserLogin(t, ctx, base, "bob", "mot-de-passe-bob")
	checkAxe(t, b, ctx, base+"/editeur/r/kit-alice", "/editeur/r/kit-alice refused to bob")
	if got := text(t, ctx, ".error-detail"); got == "" {
		t.Errorf("refusal page without the sentence naming the owner")
	}
}
