package web_test

import (
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web"
)

// TestEditorUploadIdleDeadline: behind a server whose ReadTimeout is one
// second (serve's --read-timeout), an editor's file that keeps arriving for
// three seconds is published, and one that stops arriving is cut after
// the one-second idle deadline instead of holding the connection.
func TestEditorUploadIdleDeadline(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	if err := n.Service.SetPassword(context.Background(), "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(web.New(n.Service, web.Options{PublicURL: n.URL, UploadIdleTimeout: time.Second}).Handler())
	srv.Config.ReadTimeout = time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL)
	loginCookie(t, b, "un-mot-de-passe-solide")
	_, body := b.get("/editeur/nouveau")
	token := csrfOf(t, body)

	// upload sends the form with a file written in pieces every gap for
	// total, then stops (stall) or finishes.
	upload := func(title string, gap, total time.Duration, stall bool) (int, time.Duration) {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			for _, f := range [][2]string{{"csrf", token}, {"title", title}, {"summary", "Un kit."}, {"kind", "workshop-kit"},
				{"license", "CC-BY-SA-4.0"}, {"language", "fr"}} {
				mw.WriteField(f[0], f[1])
			}
			fw, _ := mw.CreateFormFile("file", "fiche.pdf")
			fw.Write([]byte("%PDF-1.7\n"))
			for start := time.Now(); time.Since(start) < total; {
				time.Sleep(gap)
				if _, err := fw.Write([]byte(strings.Repeat("x", 512))); err != nil {
					return
				}
			}
			if stall {
				time.Sleep(10 * time.Second)
			}
			pw.CloseWithError(mw.Close())
		}()
		req, _ := http.NewRequest("POST", srv.URL+"/editeur/nouveau", pr)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		start := time.Now()
		resp, err := b.c.Do(req)
		if err != nil {
			return 0, time.Since(start)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	if status, took := upload("Kit lent", 200*time.Millisecond, 3*time.Second, false); status != http.StatusSeeOther {
		t.Fatalf("upload moving for %v: status %d, want 303", took, status)
	}
	status, took := upload("Kit arrêté", 100*time.Millisecond, 300*time.Millisecond, true)
	t.Logf("stalled upload: status %d after %v", status, took.Round(time.Millisecond))
	if took > 5*time.Second || status != http.StatusRequestTimeout {
		t.Fatalf("stalled upload: status %d after %v, want 408 after about a second", status, took)
	}
	if items, _, _ := n.Service.List(context.Background(), node.ListOptions{}); len(items) != 1 {
		t.Fatalf("%d resources after one finished and one cut upload, want 1", len(items))
	}
}
