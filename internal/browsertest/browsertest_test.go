package browsertest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAxeFindsViolations proves the accessibility check can fail: a page
// with an unlabelled field and an image without text must be reported, and
// the same page fixed must not.
func TestAxeFindsViolations(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'")
		if r.URL.Path == "/bad" {
			io.WriteString(w, `<!doctype html><html><head><title>t</title></head><body><main><h1>x</h1><img src="data:,"><input type="text"></main></body></html>`)
			return
		}
		if r.URL.Path == "/file" {
			w.Header().Set("Content-Disposition", `attachment; filename="fiche.txt"`)
			io.WriteString(w, "bonjour")
			return
		}
		io.WriteString(w, `<!doctype html><html lang="fr"><head><title>t</title></head><body><main><h1>x</h1><img src="data:," alt="logo"><label for="a">Nom</label><input id="a" type="text"><a id="dl" href="/file">fichier</a></main></body></html>`)
	}))
	defer srv.Close()
	b := New(t)
	Do(t, b.Ctx, "open bad page", chromedp.Navigate(srv.URL+"/bad"))
	ids := map[string]bool{}
	for _, v := range Axe(t, b.Ctx) {
		ids[v.ID] = true
	}
	for _, want := range []string{"image-alt", "label", "html-has-lang"} {
		if !ids[want] {
			t.Errorf("axe did not report %s on a page that breaks it (got %v)", want, ids)
		}
	}
	Do(t, b.Ctx, "open good page", chromedp.Navigate(srv.URL+"/"))
	if vs := Axe(t, b.Ctx); len(vs) != 0 {
		t.Errorf("violations on a correct page: %v", vs)
	}
	if w := PageWeight(t, b.Ctx); w < 200 || w > 5000 {
		t.Errorf("page weight %d bytes for a tiny page", w)
	}
	path, name := b.WaitDownload(t, b.Ctx, chromedp.Click(chromedp.ID("dl")))
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "bonjour" || name != "fiche.txt" {
		t.Errorf("download %s %q: %q %v", path, name, data, err)
	}
	if p := b.Screenshot(t, b.Ctx, "selftest"); p == "" {
		t.Error("no screenshot path")
	}
}
