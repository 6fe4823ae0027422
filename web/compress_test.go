package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/web"
)

func TestCompress(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	data := strings.Repeat("%PDF-1.7 identical bytes ", 2000)
	if resp := call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/guide.pdf", n.Token, "application/pdf", strings.NewReader(data), nil); resp.StatusCode != 201 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	h := web.Compress(n.Server.Config.Handler)
	get := func(path string) *http.Response {
		req, _ := http.NewRequest("GET", n.URL+path, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	page := get("/r/" + id)
	if page.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(page.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("resource page not gzipped: %v", page.Header)
	}
	zr, err := gzip.NewReader(page.Body)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(zr)
	if !strings.Contains(string(html), "Créer sa première adresse e-mail") {
		t.Fatalf("gunzipped page lacks the title: %.200s", html)
	}
	file := get("/r/" + id + "/files/guide.pdf")
	body, _ := io.ReadAll(file.Body)
	if file.Header.Get("Content-Encoding") != "" || string(body) != data || file.Header.Get("ETag") == "" || strings.HasPrefix(file.Header.Get("ETag"), "W/") {
		t.Fatalf("a download must stay byte for byte with its strong ETag: %v", file.Header)
	}
}

// TestCompressActivityJSONFast: ActivityPub documents (outbox pages a
// backfill reads by the thousand) are gzipped at BestSpeed, pages at the
// default level. The gzip header's XFL byte says which: 4 for the fastest.
func TestCompressActivityJSONFast(t *testing.T) {
	body := strings.Repeat(`{"type":"Create","object":{"type":"Note","content":"<p>Fiche</p>"}}`, 200)
	for _, tc := range []struct {
		ctype string
		fast  bool
	}{
		{"application/activity+json; charset=utf-8", true},
		{`application/ld+json; profile="https://www.w3.org/ns/activitystreams"`, true},
		{"text/html; charset=utf-8", false},
		{"application/json", false},
	} {
		h := web.Compress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.ctype)
			io.WriteString(w, body)
		}))
		req := httptest.NewRequest("GET", "/actor/outbox?page=1", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		raw := rec.Body.Bytes()
		if rec.Header().Get("Content-Encoding") != "gzip" || len(raw) < 10 {
			t.Fatalf("%s: not gzipped: %v", tc.ctype, rec.Header())
		}
		if fast := raw[8] == 4; fast != tc.fast {
			t.Errorf("%s: gzipped at BestSpeed = %v, want %v", tc.ctype, fast, tc.fast)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(zr); string(got) != body {
			t.Fatalf("%s: gunzipped body differs", tc.ctype)
		}
	}
}
