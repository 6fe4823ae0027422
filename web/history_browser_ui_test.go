package web_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
	"github.com/communs-numerique/communs/internal/testnode"
)

// The resource page's "Historique" says what changed in plain words, pages
// back to the creation by a link that works without JavaScript, and passes
// axe-core at 320 px and on a desktop.
func TestBrowserHistorySection(t *testing.T) {
	b := browsertest.New(t)
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	api := n.URL + "/api/v1/resources/" + id
	call(t, "PUT", api+"/files/guide.pdf", n.Token, "application/pdf", bytes.NewReader([]byte("%PDF-1 v1")), nil)
	for i := range 10 {
		call(t, "PATCH", api, n.Token, "application/json", strings.NewReader(fmt.Sprintf(`{"title":"Titre %d"}`, i)), nil)
	}
	call(t, "PUT", api+"/files/guide.pdf", n.Token, "application/pdf", bytes.NewReader([]byte("%PDF-1 v2")), nil)
	page := n.URL + "/r/" + id

	for _, js := range []bool{false, true} {
		name := "without JavaScript"
		if js {
			name = "with JavaScript"
		}
		t.Run(name, func(t *testing.T) {
			ctx := b.Tab(t)
			if !js {
				browsertest.Do(t, ctx, "turn scripts off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
					return err
				}))
			}
			browsertest.Do(t, ctx, "open the page", chromedp.Navigate(page))
			if h := text(t, ctx, "#h-history"); h != "Historique" {
				t.Errorf("history heading %q", h)
			}
			first := text(t, ctx, "#historique li:first-child")
			if !strings.Contains(first, "Version 13") || !strings.Contains(first, "Fichier guide.pdf remplacé le ") {
				t.Errorf("newest line %q", first)
			}
			if second := text(t, ctx, "#historique li:nth-child(2)"); !strings.Contains(second, "Titre modifié le ") {
				t.Errorf("second line %q", second)
			}
			if js {
				for _, w := range []struct {
					name          string
					width, height int64
				}{{"320", 320, 640}, {"desktop", 1280, 900}} {
					browsertest.Do(t, ctx, "viewport "+w.name, chromedp.EmulateViewport(w.width, w.height), chromedp.Navigate(page+"#historique"))
					checkAxeHere(t, b, ctx, "resource page with its history, "+w.name)
					t.Logf("%s", b.Screenshot(t, ctx, "history-"+w.name))
					if sw := eval[int](t, ctx, `document.documentElement.scrollWidth`); sw > int(w.width) {
						t.Errorf("%s: the page is %d px wide", w.name, sw)
					}
				}
			}
			browsertest.Navigating(t, ctx, "older changes", chromedp.Click(chromedp.CSS(`#historique a`)))
			last := text(t, ctx, "#historique li:last-child")
			if !strings.Contains(last, "Version 1") || !strings.Contains(last, "Créé le ") {
				t.Errorf("oldest line %q at %s", last, location(t, ctx))
			}
			if added := text(t, ctx, "#historique li:nth-last-child(2)"); !strings.Contains(added, "Fichier guide.pdf ajouté le ") {
				t.Errorf("file added line %q", added)
			}
			if js {
				checkAxeHere(t, b, ctx, "resource page, older history")
			}
		})
	}
}
