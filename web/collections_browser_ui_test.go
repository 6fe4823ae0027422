package web_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
	"github.com/communs-numerique/communs/node"
)

// TestBrowserCollectionPages: a collection's page (items in order, a
// copy's unavailable items), the list of collections and the collection
// editor (empty, refused with its error summary, then saved) pass
// axe-core at a 320 px phone width and on a desktop, in French and
// English, without sideways scrolling; the editor works by keyboard and
// without JavaScript-only controls.
func TestBrowserCollectionPages(t *testing.T) {
	b := browsertest.New(t)
	f := newOrgFixture(t)
	base := f.n.URL
	ctx := context.Background()
	if resp, _, e := createCollection(t, f, "alice", `{"title":"Parcours e-mail : trois séances","summary":"De l'adresse à la pièce jointe, pour un groupe de débutants.",
		"description":"**Avant la séance** : vérifier le Wi-Fi.\n\n- une adresse par personne\n- un carnet pour les mots de passe",
		"items":[{"resource":"kit-alice","note":"Séance 1 : créer son adresse e-mail"},{"resource":"kit-carol","note":"Séance 2 : envoyer une pièce jointe"}]}`); resp.StatusCode != 201 {
		t.Fatalf("create: %d %+v", resp.StatusCode, e.Error)
	}
	copyID := ""
	if c, err := f.n.Service.SaveRemoteCollection(ctx, node.Collection{Title: "Parcours visio", Hub: "hub-du-nord", Origin: "https://nord.example/collections/visio",
		Items:       []node.CollectionItem{{Resource: "kit-alice", Note: "avant la visio"}},
		Unavailable: []node.UnavailableItem{{URL: "https://nord.example/r/kit-nc", Title: "Kit en CC BY-NC", Reason: "licence CC BY-NC 4.0 hors de la politique de ce hub"}}}); err != nil {
		t.Fatal(err)
	} else {
		copyID = c.ID
	}
	tab := b.Tab(t)
	shots := os.Getenv("COMMUNS_DOC_SCREENSHOTS")
	widths := []struct {
		name          string
		width, height int64
	}{{"320", 320, 640}, {"desktop", 1280, 900}}
	noOverflow := func(what string, width int64) {
		t.Helper()
		if sw := eval[int](t, tab, `document.documentElement.scrollWidth`); sw > int(width) {
			t.Errorf("%s is %d px wide on a %d px screen", what, sw, width)
		}
	}
	for _, w := range widths {
		browsertest.Do(t, tab, "viewport "+w.name, chromedp.EmulateViewport(w.width, w.height))
		checkAxe(t, b, tab, base+"/collections/parcours-e-mail-trois-seances", "collection page at "+w.name)
		if got := text(t, tab, "h1"); got != "Parcours e-mail : trois séances" {
			t.Errorf("collection page h1 %q", got)
		}
		if got := text(t, tab, "ol.collection-items"); !strings.Contains(got, "Séance 1") || strings.Index(got, "Kit alice") > strings.Index(got, "Kit carol") {
			t.Errorf("collection items %q", got)
		}
		noOverflow("collection page", w.width)
		if shots != "" {
			t.Logf("%s", browsertest.ScreenshotAt(t, tab, shots, "collection-"+w.name, w.width, w.height, w.width < 400))
		}
		checkAxe(t, b, tab, base+"/collections/"+copyID, "a copy's page with an unavailable item at "+w.name)
		noOverflow("copy's page", w.width)
		checkAxe(t, b, tab, base+"/collections", "collections list at "+w.name)
		noOverflow("collections list", w.width)
	}
	browsertest.Do(t, tab, "English", chromedp.Navigate(base+"/langue/en?retour=/collections/parcours-e-mail-trois-seances"))
	checkAxeHere(t, b, tab, "collection page (en)")
	if got := text(t, tab, "a.button.primary"); got != "Download the whole collection (zip)" {
		t.Errorf("English zip link %q", got)
	}
	browsertest.Do(t, tab, "French", chromedp.Navigate(base+"/langue/fr?retour=/"))

	// The editor, as alice.
	browserLogin(t, tab, base, "alice", "mot-de-passe-alice")
	for _, w := range widths {
		browsertest.Do(t, tab, "viewport "+w.name, chromedp.EmulateViewport(w.width, w.height))
		checkAxe(t, b, tab, base+"/editeur/nouvelle-collection", "new collection form at "+w.name)
		noOverflow("new collection form", w.width)
		checkAxe(t, b, tab, base+"/editeur/c/parcours-e-mail-trois-seances", "edit collection form at "+w.name)
		noOverflow("edit collection form", w.width)
		if shots != "" {
			t.Logf("%s", browsertest.ScreenshotAt(t, tab, shots, "collection-editor-"+w.name, w.width, w.height, w.width < 400))
		}
		checkAxe(t, b, tab, base+"/editeur", "editor home with collections at "+w.name)
		noOverflow("editor home", w.width)
	}

	// Refused, then saved, typed at the keyboard.
	browsertest.Do(t, tab, "fill the form",
		chromedp.Navigate(base+"/editeur/nouvelle-collection"),
		chromedp.SendKeys(chromedp.ID("f-title"), "Atelier smartphone"),
		chromedp.SendKeys(chromedp.ID("f-items"), "kit-alice | Séance 1\nkit-inconnu"),
	)
	browsertest.Navigating(t, tab, "submit an unknown resource", chromedp.Click(chromedp.CSS(`form.stack button[type=submit]`)))
	checkAxeHere(t, b, tab, "collection form with an error")
	if got := text(t, tab, ".error-summary"); !strings.Contains(got, "kit-inconnu") {
		t.Errorf("error summary %q", got)
	}
	browsertest.Do(t, tab, "fix the items", chromedp.SetValue(chromedp.ID("f-items"), "kit-carol | Séance 1\nkit-alice | Séance 2"))
	browsertest.Navigating(t, tab, "save", chromedp.Click(chromedp.CSS(`form.stack button[type=submit]`)))
	if loc := location(t, tab); !strings.Contains(loc, "/collections/atelier-smartphone") {
		t.Errorf("after saving: at %s", loc)
	}
	checkAxeHere(t, b, tab, "saved collection")
}
