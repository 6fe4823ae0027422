package web_test

import (
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
