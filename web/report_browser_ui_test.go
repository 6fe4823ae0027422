package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/communs-numerique/communs/internal/browsertest"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// The report form on a resource page works with and without JavaScript,
// keeps the visitor's text when refused, and passes axe-core.
func TestBrowserReportForm(t *testing.T) {
	b := browsertest.New(t)
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	page := n.URL + "/r/" + id

	for _, js := range []bool{true, false} {
		name := "with JavaScript"
		if !js {
			name = "without JavaScript"
		}
		t.Run(name, func(t *testing.T) {
			ctx := b.Tab(t)
			if !js {
				browsertest.Do(t, ctx, "turn scripts off", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
					return err
				}))
			}
			msg := "Le lien vers la vidéo est mort (" + name + ") <script>alert(1)</script>"
			browsertest.Do(t, ctx, "open the form", chromedp.Navigate(page),
				chromedp.Click(chromedp.CSS("#signaler summary")),
				chromedp.WaitVisible(chromedp.ID("report-message")),
				chromedp.SetValue(chromedp.ID("report-reason"), "broken-file"),
				chromedp.SendKeys(chromedp.ID("report-message"), msg),
				chromedp.SendKeys(chromedp.ID("report-contact"), "ana@exemple"))
			// The page's script shows the copy button: proof of which mode runs.
			if hidden := eval[bool](t, ctx, `document.querySelector("[data-copy]").hidden`); hidden == js {
				t.Fatalf("copy button hidden=%v with scripts on=%v: the mode is not what the test thinks", hidden, js)
			}
			if js {
				checkAxeHere(t, b, ctx, "resource page with the report form open")
			}
			// An address the browser accepts but the node does not: the
			// page comes back with the reason and the text kept.
			browsertest.Navigating(t, ctx, "send with a bad contact", chromedp.Click(chromedp.CSS(`#signaler button[type=submit]`)))
			if e := text(t, ctx, "#e-report"); !strings.Contains(e, "adresse e-mail n'est pas valide") {
				t.Fatalf("refusal message %q", e)
			}
			if v := browsertest.Run(t, ctx, "message kept", chromedp.Value(chromedp.ID("report-message"))); v != msg {
				t.Errorf("message after the refusal %q, want %q", v, msg)
			}
			if js {
				checkAxeHere(t, b, ctx, "resource page with a refused report")
			}
			browsertest.Do(t, ctx, "fix the contact", chromedp.Clear(chromedp.ID("report-contact")),
				chromedp.SendKeys(chromedp.ID("report-contact"), "ana@exemple.fr"))
			browsertest.Navigating(t, ctx, "send", chromedp.Click(chromedp.CSS(`#signaler button[type=submit]`)))
			if s := text(t, ctx, "#signaler .notice"); !strings.Contains(s, "Merci") {
				t.Errorf("after sending: notice %q at %s", s, location(t, ctx))
			}
			// The message is never shown back on the public page.
			if html := browsertest.Run(t, ctx, "page", chromedp.OuterHTML(chromedp.CSS("main"))); strings.Contains(html, "vidéo est mort") {
				t.Error("the public page shows the report")
			}
		})
	}
	rs, err := n.Service.ListReports(context.Background(), node.ReportFilter{OpenOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d reports stored, want 2 (one per mode): %+v", len(rs), rs)
	}
	for _, r := range rs {
		if r.Reason != "broken-file" || r.Contact != "ana@exemple.fr" || !strings.Contains(r.Message, "<script>") {
			t.Errorf("stored report %+v", r)
		}
	}
}
