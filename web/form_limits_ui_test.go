package web_test

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testnode"
)

// bigForm streams a multipart form: the given first fields, then text
// fields of 64 KiB until total bytes have been produced, without holding
// more than one field in memory.
func bigForm(first [][2]string, total int64) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, f := range first {
			mw.WriteField(f[0], f[1])
		}
		chunk := strings.Repeat("a", 64<<10)
		for i, sent := 0, int64(0); sent < total; i++ {
			if err := mw.WriteField(fmt.Sprintf("f%d", i), chunk); err != nil {
				pw.CloseWithError(err)
				return
			}
			sent += int64(len(chunk))
		}
		pw.CloseWithError(mw.Close())
	}()
	return pr, mw.FormDataContentType()
}

// heapPeak samples HeapAlloc while fn runs and returns the highest value
// above the level before it.
func heapPeak(fn func()) int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapAlloc)
	var peak atomic.Int64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if d := int64(ms.HeapAlloc) - base; d > peak.Load() {
				peak.Store(d)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	<-sampled
	return peak.Load()
}

// TestEditorFormBoundedBeforeRead: a 100 MiB editor form is refused with
// 413 as soon as its text passes the cap, without the node buffering it;
// a form whose first field is not a valid CSRF token is refused before
// anything else is read. Before, every text field was buffered (100 MiB
// of fields grew the heap by ~140 MB) and CSRF checked after.
func TestEditorFormBoundedBeforeRead(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	if err := n.Service.SetPassword(context.Background(), "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, n.URL)
	loginCookie(t, b, "un-mot-de-passe-solide")
	_, body := b.get("/editeur/nouveau")
	token := csrfOf(t, body)

	send := func(first [][2]string, total int64) (int, time.Duration) {
		t.Helper()
		r, ct := bigForm(first, total)
		req, _ := http.NewRequest("POST", n.URL+"/editeur/nouveau", r)
		req.Header.Set("Content-Type", ct)
		start := time.Now()
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatalf("post: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	for _, tc := range []struct {
		name   string
		first  [][2]string
		status int
	}{
		{"valid token, 100 MiB of fields", [][2]string{{"csrf", token}, {"title", "Kit"}}, http.StatusRequestEntityTooLarge},
		{"wrong token", [][2]string{{"csrf", "faux"}}, http.StatusForbidden},
		{"token not first", [][2]string{{"title", "Kit"}, {"csrf", token}}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var status int
			var took time.Duration
			peak := heapPeak(func() { status, took = send(tc.first, 100<<20) })
			t.Logf("status %d in %v, heap peak %+d KiB", status, took.Round(time.Millisecond), peak/1024)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if took > 5*time.Second {
				t.Errorf("refusal took %v: the node read the form", took)
			}
			if peak > 24<<20 {
				t.Errorf("heap grew by %d KiB while refusing the form", peak/1024)
			}
		})
	}
	// Too many small fields are refused too.
	fields := [][2]string{{"csrf", token}}
	for i := range 500 {
		fields = append(fields, [2]string{"themes", fmt.Sprint(i)})
	}
	resp, body := b.postMultipart("/editeur/nouveau", fields, nil)
	wantStatus(t, "500 fields", resp, body, http.StatusRequestEntityTooLarge)

	// The urlencoded edit form is capped as well, with 413.
	res := publish(t, n, `{"title":"Kit","summary":"Un kit.","kind":"workshop-kit","license":"CC-BY-SA-4.0","language":"fr"}`)
	_, body = b.get("/editeur/r/" + res["id"].(string))
	resp, body = b.postForm("/editeur/r/"+res["id"].(string), url.Values{"csrf": {csrfOf(t, body)}, "description": {strings.Repeat("a", 2<<20)}})
	wantStatus(t, "2 MiB edit form", resp, body, http.StatusRequestEntityTooLarge)
}
