package web_test

import (
	"archive/zip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
	"github.com/communs-numerique/communs/web"
)

const editorPassword = "un-mot-de-passe-solide"

// uiNode is a node with the demo corpus, one kit with real files and an
// editor who has a password.
func uiNode(t *testing.T) (*testnode.Node, node.Resource) {
	n := testnode.Start(t, testnode.Options{Search: true})
	seedCorpus(t, n)
	ctx := context.Background()
	kit, err := n.Service.Publish(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit atelier : sécuriser son smartphone", Summary: "Un atelier de deux heures pour protéger son téléphone.",
		Description: "**Objectifs**\n\n- verrouiller l'écran\n- mettre à jour\n\n[Guide ANSSI](https://cyber.gouv.fr)", Kind: "workshop-kit",
		Themes: []string{"smartphone", "cybersecurite"}, Audience: []string{"seniors", "mediateurs"}, Level: "debutant", License: "CC-BY-SA-4.0",
		Authors: []string{"Atelier Numérique du Var"}}},
		func(yield func(node.Upload) error) error {
			if err := yield(node.Upload{Name: "deroule-atelier.pdf", Body: strings.NewReader("%PDF-1.7 déroulé " + strings.Repeat("x", 3000)), Size: -1}); err != nil {
				return err
			}
			return yield(node.Upload{Name: "diaporama.odp", Body: strings.NewReader("PK\x03\x04 diaporama"), Size: -1})
		}, false)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "index the kit", func() bool {
		st, err := n.Indexer.Status(ctx)
		return err == nil && st.Backlog == 0
	})
	if err := n.Service.SetPassword(ctx, "editor", editorPassword); err != nil {
		t.Fatal(err)
	}
	return n, kit
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return browsertest.Run(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	return browsertest.Run(t, ctx, js, chromedp.Evaluate[T](js))
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	return browsertest.Run(t, ctx, "location", chromedp.Location())
}

func login(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	browserLogin(t, ctx, base, "editor", editorPassword)
}

// browserLogin logs name in through the form and waits for the editor's home,
// which only a session reaches: waiting for any element of the login page
// itself would let the next navigation race the form's answer.
func browserLogin(t *testing.T, ctx context.Context, base, name, password string) {
	t.Helper()
	browsertest.Do(t, ctx, "log in as "+name,
		chromedp.Navigate(base+"/connexion"),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/editeur/nouveau"]`)),
	)
}

func TestBrowserUI(t *testing.T) {
	b := browsertest.New(t)
	n, kit := uiNode(t)

	if dir := os.Getenv("COMMUNS_DOC_SCREENSHOTS"); dir != "" {
		t.Run("documentation screenshots", func(t *testing.T) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			// A fresh origin, so no editor session shows; the hub as an
			// admin would present it.
			base := serveWith(t, n, web.Options{Name: "Hub du Sud", Region: "Provence-Alpes-Côte d'Azur",
				Description: "Les kits d'atelier, tutoriels et guides des médiateurs numériques de la région, à réutiliser librement."})
			ctx := b.Tab(t)
			for _, p := range []struct{ name, path string }{{"home", "/"}, {"search", "/recherche?q=smartphone"},
				{"resource", "/r/" + kit.ID}, {"guide", "/guide"}} {
				browsertest.Do(t, ctx, "open "+p.path, chromedp.Navigate(base+p.path))
				t.Logf("%s", browsertest.ScreenshotAt(t, ctx, dir, p.name+"-phone", 360, 740, true))
				browsertest.Do(t, ctx, "reload "+p.path, chromedp.Navigate(base+p.path))
				t.Logf("%s", browsertest.ScreenshotAt(t, ctx, dir, p.name+"-desktop", 1280, 900, false))
			}
		})
	}

	t.Run("search and filter", func(t *testing.T) {
		ctx := b.Tab(t)
		browsertest.Do(t, ctx, "search", chromedp.Navigate(n.URL+"/"),
			chromedp.SendKeys(chromedp.ID("q"), "smartphone"),
			chromedp.Submit(chromedp.ID("q")),
			chromedp.WaitVisible(chromedp.CSS("ol.hits")))
		before := text(t, ctx, ".total")
		if !strings.Contains(location(t, ctx), "/recherche?q=smartphone") || !strings.Contains(before, "ressources trouvées") {
			t.Fatalf("search landed on %s with %q", location(t, ctx), before)
		}
		if marks := eval[int](t, ctx, `document.querySelectorAll("ol.hits mark").length`); marks == 0 {
			t.Error("no highlighted word in the hits")
		}
		browsertest.Do(t, ctx, "tick a kind", chromedp.Click(chromedp.CSS(`input[name=kind][value=tutorial]`)))
		browsertest.Navigating(t, ctx, "apply the filter", chromedp.Click(chromedp.CSS(`.filters button[type=submit]`)))
		after := text(t, ctx, ".total")
		if !strings.Contains(location(t, ctx), "kind=tutorial") || after == before {
			t.Errorf("filter: at %s, total %q then %q", location(t, ctx), before, after)
		}
		kinds := eval[[]string](t, ctx, `[...document.querySelectorAll("ol.hits .meta")].map(e => e.textContent.split(" · ")[0])`)
		for _, k := range kinds {
			if k != "Tutoriel" {
				t.Errorf("a hit of kind %q under the tutorial filter", k)
			}
		}
		// Results as you type: the page updates without a submit.
		browsertest.Do(t, ctx, "type a new query",
			chromedp.Navigate(n.URL+"/recherche"),
			chromedp.SendKeys(chromedp.ID("q"), "mot de passe"),
			chromedp.Poll[chromedp.Void](`document.querySelector("h1").textContent.includes("mot de passe")`, chromedp.WithPollingTimeout(10*time.Second)))
		b.Screenshot(t, ctx, "search-and-filter")
	})

	t.Run("open a resource and download", func(t *testing.T) {
		ctx := b.Tab(t)
		browsertest.Do(t, ctx, "find the kit", chromedp.Navigate(n.URL+"/recherche?q="+"sécuriser+son+smartphone"))
		browsertest.Navigating(t, ctx, "open it", chromedp.Click(chromedp.CSS(`ol.hits a[href="/r/`+kit.ID+`"]`)))
		if h1 := text(t, ctx, "h1"); h1 != kit.Title {
			t.Fatalf("resource page h1 %q, want %q", h1, kit.Title)
		}
		b.Screenshot(t, ctx, "resource")
		path, name := b.WaitDownload(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/r/`+kit.ID+`/files/deroule-atelier.pdf"]`)))
		data, err := os.ReadFile(path)
		if err != nil || name != "deroule-atelier.pdf" || !strings.HasPrefix(string(data), "%PDF-1.7 déroulé") || len(data) != int(kit.Files[0].Size) {
			t.Errorf("downloaded %q: %d bytes, %v", name, len(data), err)
		}
		path, name = b.WaitDownload(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/r/`+kit.ID+`.zip"]`)))
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatalf("zip %s: %v", name, err)
		}
		defer zr.Close()
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		if got := strings.Join(names, ","); got != "deroule-atelier.pdf,diaporama.odp,LICENCE.txt,resource.json" || name != kit.ID+".zip" {
			t.Errorf("zip %s holds %s", name, got)
		}
	})

	t.Run("switch language", func(t *testing.T) {
		ctx := b.Tab(t)
		browsertest.Do(t, ctx, "switch to English",
			chromedp.Navigate(n.URL+"/r/"+kit.ID),
			chromedp.Click(chromedp.CSS(`a[hreflang=en]`)),
			chromedp.WaitVisible(chromedp.CSS(`a[hreflang=fr]`)))
		if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "en" || !strings.HasSuffix(location(t, ctx), "/r/"+kit.ID) {
			t.Errorf("after the switch: lang %q at %s, want en on the same page", lang, location(t, ctx))
		}
		if got := text(t, ctx, ".download-box .primary"); got != "Download the whole kit (.zip)" {
			t.Errorf("zip button in English: %q", got)
		}
		b.Screenshot(t, ctx, "resource-en")
		browsertest.Do(t, ctx, "back to French", chromedp.Click(chromedp.CSS(`a[hreflang=fr]`)), chromedp.WaitVisible(chromedp.CSS(`a[hreflang=en]`)))
	})

	t.Run("editor publishes a kit with a file", func(t *testing.T) {
		ctx := b.Tab(t)
		login(t, ctx, n.URL)
		file := filepath.Join(t.TempDir(), "fiche-visio.pdf")
		if err := os.WriteFile(file, []byte("%PDF-1.7 fiche visio"), 0o644); err != nil {
			t.Fatal(err)
		}
		browsertest.Do(t, ctx, "fill the form",
			chromedp.Click(chromedp.CSS(`a[href="/editeur/nouveau"]`)),
			chromedp.WaitVisible(chromedp.ID("f-title")),
			chromedp.SendKeys(chromedp.ID("f-title"), "Kit atelier visio en famille"),
			chromedp.SendKeys(chromedp.ID("f-summary"), "Appeler ses proches en vidéo."),
			chromedp.SetValue(chromedp.ID("f-kind"), "workshop-kit"),
			chromedp.Click(chromedp.ID("t-visioconference")),
			chromedp.Click(chromedp.ID("a-seniors")),
			chromedp.SetUploadFiles(chromedp.ID("f-file"), []string{file}))
		b.Screenshot(t, ctx, "editor-form")
		browsertest.Do(t, ctx, "publish",
			chromedp.Click(chromedp.CSS(`form[data-upload] button.primary`)),
			chromedp.WaitVisible(chromedp.CSS(`.files .file-name`)))
		if h1 := text(t, ctx, "h1"); h1 != "Kit atelier visio en famille" {
			t.Fatalf("after publishing: h1 %q at %s", h1, location(t, ctx))
		}
		id := strings.TrimPrefix(location(t, ctx), n.URL+"/r/")
		res, err := n.Service.Get(context.Background(), id)
		if err != nil || len(res.Files) != 1 || res.Files[0].Name != "fiche-visio.pdf" || res.Files[0].Size != 20 {
			t.Fatalf("published kit %q: %+v %v", id, res.Files, err)
		}
		b.Screenshot(t, ctx, "editor-published")
	})

	t.Run("keyboard only search", func(t *testing.T) {
		ctx := b.Tab(t)
		browsertest.Do(t, ctx, "open search", chromedp.Navigate(n.URL+"/recherche"), chromedp.KeyEvent("\t"))
		if cls := eval[string](t, ctx, `document.activeElement.className`); cls != "skip" {
			t.Fatalf("first Tab focuses %q, want the skip link", cls)
		}
		browsertest.Do(t, ctx, "use the skip link", chromedp.KeyEvent("\r"))
		if id := eval[string](t, ctx, `document.activeElement.id`); id != "contenu" {
			t.Errorf("skip link moves focus to %q, want #contenu", id)
		}
		tabTo := func(what, js string) {
			t.Helper()
			for range 60 {
				browsertest.Do(t, ctx, "Tab", chromedp.KeyEvent("\t"))
				if eval[bool](t, ctx, js) {
					return
				}
			}
			t.Fatalf("Tab never reached %s", what)
		}
		tabTo("the search box", `document.activeElement.id === "q"`)
		browsertest.Do(t, ctx, "type", chromedp.KeyEvent("atelier"))
		browsertest.Navigating(t, ctx, "press Enter", chromedp.KeyEvent("\r"))
		if !strings.Contains(location(t, ctx), "q=atelier") {
			t.Fatalf("Enter in the search box led to %s", location(t, ctx))
		}
		tabTo("a kind filter", `document.activeElement.name === "kind"`)
		browsertest.Do(t, ctx, "tick it with Space", chromedp.KeyEvent(" "))
		if !eval[bool](t, ctx, `document.activeElement.checked`) {
			t.Fatal("Space did not tick the focused filter")
		}
		if outline := eval[string](t, ctx, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
			t.Error("the focused checkbox has no visible outline")
		}
		b.Screenshot(t, ctx, "keyboard-focus")
		tabTo("the apply button", `document.activeElement.matches(".filters button[type=submit]")`)
		browsertest.Navigating(t, ctx, "apply with Enter", chromedp.KeyEvent("\r"))
		if !strings.Contains(location(t, ctx), "kind=") {
			t.Fatalf("Enter on the apply button led to %s", location(t, ctx))
		}
		tabTo("the first result", `document.activeElement.matches("ol.hits h3 a")`)
		browsertest.Navigating(t, ctx, "open it with Enter", chromedp.KeyEvent("\r"))
		if !strings.Contains(location(t, ctx), "/r/") {
			t.Fatalf("Enter on the first result led to %s", location(t, ctx))
		}
		b.Screenshot(t, ctx, "keyboard-result")
	})

	t.Run("page weight", func(t *testing.T) {
		ctx := b.Tab(t)
		browsertest.NoCache(t, ctx)
		for _, p := range []string{"/", "/r/" + kit.ID} {
			browsertest.Do(t, ctx, "open "+p, chromedp.Navigate(n.URL+p))
			w := browsertest.PageWeight(t, ctx)
			t.Logf("%s: %d bytes transferred", p, w)
			if w == 0 || w > 100_000 {
				t.Errorf("%s weighs %d bytes, want under 100 KB", p, w)
			}
		}
		b.Screenshot(t, ctx, "home-weight")
	})

	t.Run("accessibility", func(t *testing.T) {
		ctx := b.Tab(t)
		pages := []string{"/", "/recherche?q=smartphone", "/recherche?q=zzxqwvbnt&kind=tutorial", "/r/" + kit.ID, "/guide",
			"/guide?envoi=1&qui=", "/hub", "/ressources", "/connexion", "/nexiste/pas", "/r/inconnue"}
		for _, p := range pages {
			checkAxe(t, b, ctx, n.URL+p, p)
		}
		// The English pages, and the editor's forms with their errors.
		browsertest.Do(t, ctx, "English", chromedp.Navigate(n.URL+"/langue/en?retour=/"))
		checkAxe(t, b, ctx, n.URL+"/r/"+kit.ID, "/r/"+kit.ID+" (en)")
		browsertest.Do(t, ctx, "French", chromedp.Navigate(n.URL+"/langue/fr?retour=/"))
		login(t, ctx, n.URL)
		checkAxe(t, b, ctx, n.URL+"/editeur", "/editeur")
		checkAxe(t, b, ctx, n.URL+"/editeur/nouveau", "/editeur/nouveau")
		browsertest.Do(t, ctx, "submit an invalid form", chromedp.Evaluate[chromedp.Void](`document.getElementById("f-title").removeAttribute("required")`),
			chromedp.Click(chromedp.CSS(`form[data-upload] button.primary`)), chromedp.WaitVisible(chromedp.CSS(".error-summary")))
		checkAxeHere(t, b, ctx, "/editeur/nouveau with errors")
		checkAxe(t, b, ctx, n.URL+"/editeur/r/"+kit.ID, "/editeur/r/ID")
		checkAxe(t, b, ctx, n.URL+"/editeur/r/"+kit.ID+"/supprimer", "/editeur/r/ID/supprimer")
	})

	t.Run("search engine down page", func(t *testing.T) {
		down := search.NewReconnecting(func(context.Context) (node.Index, error) { return nil, errors.New("connection refused") }, time.Hour)
		dn := testnode.Start(t, testnode.Options{Index: down})
		ctx := b.Tab(t)
		checkAxe(t, b, ctx, dn.URL+"/recherche?q=atelier", "/recherche with search down")
		if h1 := text(t, ctx, "h1"); h1 != "Recherche momentanément indisponible" {
			t.Errorf("search down page h1 %q", h1)
		}
	})

}

func checkAxe(t *testing.T, b *browsertest.Browser, ctx context.Context, url, name string) {
	t.Helper()
	browsertest.Do(t, ctx, "open "+name, chromedp.Navigate(url))
	checkAxeHere(t, b, ctx, name)
}

func checkAxeHere(t *testing.T, b *browsertest.Browser, ctx context.Context, name string) {
	t.Helper()
	vs := browsertest.Axe(t, ctx)
	for _, v := range vs {
		t.Errorf("%s: %s", name, v)
	}
	t.Logf("axe-core %s, WCAG 2.1 AA, %s: %d violations", browsertest.AxeVersion, name, len(vs))
}
