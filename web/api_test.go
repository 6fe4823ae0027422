package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// call sends one request and decodes a JSON answer when out is not nil.
func call(t *testing.T, method, url, token, contentType string, body io.Reader, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := validatedClient(t).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	return resp
}

type errBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
		ID      string `json:"id"`
	} `json:"error"`
}

const kitJSON = `{"title":"Créer sa première adresse e-mail","summary":"Pas à pas.","description":"**Objectifs**\n- créer","kind":"tutorial","themes":["messagerie"],"audience":["grand-public"],"level":"debutant","license":"CC-BY-SA-4.0","language":"fr","authors":["Atelier Numérique"]}`

func publish(t *testing.T, n *testnode.Node, body string) map[string]any {
	t.Helper()
	var out map[string]any
	resp := call(t, "POST", n.URL+"/api/v1/resources", n.Token, "application/json", strings.NewReader(body), &out)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish: status %d: %v", resp.StatusCode, out)
	}
	return out
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func blobCount(t *testing.T, n *testnode.Node) int {
	t.Helper()
	c := 0
	if err := n.Blobs.Walk(context.Background(), func(node.Blob) error { c++; return nil }); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPublishUploadDownload(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	res := publish(t, n, kitJSON)
	if res["id"] != "creer-sa-premiere-adresse-e-mail" {
		t.Fatalf("id = %v, want a readable slug of the title", res["id"])
	}
	if res["url"] != n.URL+"/r/creer-sa-premiere-adresse-e-mail" {
		t.Fatalf("url = %v", res["url"])
	}
	id := res["id"].(string)

	data, _ := io.ReadAll(corpus.Content(id, "guide.pdf", 300_000))
	var f map[string]any
	resp := call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/guide.pdf", n.Token, "application/pdf", bytes.NewReader(data), &f)
	if resp.StatusCode != http.StatusCreated || f["sha256"] != sha(data) || f["size"].(float64) != float64(len(data)) {
		t.Fatalf("upload: %d %v", resp.StatusCode, f)
	}

	fileURL := n.URL + "/r/" + id + "/files/guide.pdf"
	resp = call(t, "GET", fileURL, "", "", nil, nil)
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("download: status %d, %d bytes", resp.StatusCode, len(got))
	}
	for h, want := range map[string]string{
		"Content-Length": fmt.Sprint(len(data)), "ETag": `"` + sha(data) + `"`,
		"Content-Type": "application/pdf", "X-Content-Type-Options": "nosniff",
	} {
		if resp.Header.Get(h) != want {
			t.Errorf("%s = %q, want %q", h, resp.Header.Get(h), want)
		}
	}

	req, _ := http.NewRequest("GET", fileURL, nil)
	req.Header.Set("Range", "bytes=1000-1999")
	rr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rr.Body)
	rr.Body.Close()
	if rr.StatusCode != http.StatusPartialContent || !bytes.Equal(part, data[1000:2000]) {
		t.Fatalf("range: status %d, %d bytes", rr.StatusCode, len(part))
	}
	if cr := rr.Header.Get("Content-Range"); cr != fmt.Sprintf("bytes 1000-1999/%d", len(data)) {
		t.Fatalf("Content-Range = %q", cr)
	}

	req, _ = http.NewRequest("GET", fileURL, nil)
	req.Header.Set("If-None-Match", `"`+sha(data)+`"`)
	nm, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	nm.Body.Close()
	if nm.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", nm.StatusCode)
	}

	// An HTML file would run as a page of this origin: it must download.
	call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/page.html", n.Token, "text/html", strings.NewReader("<script>alert(1)</script>"), nil)
	resp = call(t, "GET", n.URL+"/r/"+id+"/files/page.html", "", "", nil, nil)
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Fatalf("html file Content-Disposition = %q, want attachment", cd)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Fatalf("html file CSP = %q, want sandbox", csp)
	}
}

func TestZipStreamsWholeKit(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	files := map[string][]byte{}
	for _, name := range []string{"guide.pdf", "diaporama.odp", "notes.md"} {
		files[name], _ = io.ReadAll(corpus.Content(id, name, 50_000))
		resp := call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/"+name, n.Token, "", bytes.NewReader(files[name]), nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload %s: %d", name, resp.StatusCode)
		}
	}
	resp := call(t, "GET", n.URL+"/r/"+id+".zip", "", "", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(resp.Body)
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("zip does not open: %v", err)
	}
	seen := map[string]bool{}
	for _, zf := range zr.File {
		rc, _ := zf.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		seen[zf.Name] = true
		if want, ok := files[zf.Name]; ok && !bytes.Equal(b, want) {
			t.Errorf("%s in zip differs from the uploaded bytes", zf.Name)
		}
		if zf.Name == "LICENCE.txt" && !strings.Contains(string(b), "« Créer sa première adresse e-mail » par Atelier Numérique") {
			t.Errorf("LICENCE.txt lacks the attribution line:\n%s", b)
		}
		if zf.Name == "resource.json" && !strings.Contains(string(b), `"license": "CC-BY-SA-4.0"`) {
			t.Errorf("resource.json lacks the licence:\n%s", b)
		}
	}
	for _, want := range []string{"guide.pdf", "diaporama.odp", "notes.md", "LICENCE.txt", "resource.json"} {
		if !seen[want] {
			t.Errorf("zip lacks %s", want)
		}
	}
}

func TestUpdateDeleteAndBlobCleanup(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	other := publish(t, n, strings.Replace(kitJSON, "Créer sa", "Ouvrir sa", 1))["id"].(string)
	data := []byte("the same bytes in two resources")
	for _, rid := range []string{id, other} {
		call(t, "PUT", n.URL+"/api/v1/resources/"+rid+"/files/fiche.md", n.Token, "", bytes.NewReader(data), nil)
	}
	if c := blobCount(t, n); c != 1 {
		t.Fatalf("identical files stored %d times, want once", c)
	}

	var out map[string]any
	resp := call(t, "PATCH", n.URL+"/api/v1/resources/"+id, n.Token, "application/json", strings.NewReader(`{"title":"Nouveau titre","level":"avance"}`), &out)
	if resp.StatusCode != 200 || out["title"] != "Nouveau titre" || out["level"] != "avance" || out["summary"] != "Pas à pas." {
		t.Fatalf("patch: %d %v", resp.StatusCode, out)
	}
	var e errBody
	resp = call(t, "PATCH", n.URL+"/api/v1/resources/"+id, n.Token, "application/json", strings.NewReader(`{"kind":"poster"}`), &e)
	if resp.StatusCode != 400 || e.Error.Field != "kind" || !strings.Contains(e.Error.Message, "workshop-kit") {
		t.Fatalf("bad kind: %d %+v", resp.StatusCode, e)
	}
	resp = call(t, "PATCH", n.URL+"/api/v1/resources/"+id, n.Token, "application/json", strings.NewReader(`{"titel":"x"}`), &e)
	if resp.StatusCode != 400 || !strings.Contains(e.Error.Message, "titel") {
		t.Fatalf("unknown field: %d %+v", resp.StatusCode, e)
	}

	resp = call(t, "DELETE", n.URL+"/api/v1/resources/"+id, n.Token, "", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if call(t, "GET", n.URL+"/api/v1/resources/"+id, "", "", nil, nil).StatusCode != 404 {
		t.Fatal("deleted resource still answers")
	}
	if c := blobCount(t, n); c != 1 {
		t.Fatalf("blob still used by %s was removed (count %d)", other, c)
	}
	resp = call(t, "DELETE", n.URL+"/api/v1/resources/"+other+"/files/fiche.md", n.Token, "", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete file: %d", resp.StatusCode)
	}
	if c := blobCount(t, n); c != 0 {
		t.Fatalf("unreferenced blob kept (count %d)", c)
	}
	if call(t, "GET", n.URL+"/r/"+other+"/files/fiche.md", "", "", nil, nil).StatusCode != 404 {
		t.Fatal("deleted file still downloads")
	}
}

func TestRefusals(t *testing.T) {
	n := testnode.Start(t, testnode.Options{MaxFileSize: 1 << 20})
	id := publish(t, n, kitJSON)["id"].(string)
	big := bytes.Repeat([]byte("x"), 2<<20)

	tests := []struct {
		name, method, path, token, ctype string
		body                             io.Reader
		status                           int
		code, contains                   string
	}{
		{"no token", "POST", "/api/v1/resources", "", "application/json", strings.NewReader(kitJSON), 401, "unauthorized", "Authorization: Bearer"},
		{"bad token", "POST", "/api/v1/resources", "cmn_nope", "application/json", strings.NewReader(kitJSON), 401, "unauthorized", "token"},
		{"not json", "POST", "/api/v1/resources", n.Token, "text/plain", strings.NewReader(kitJSON), 415, "unsupported_media_type", "application/json"},
		{"broken json", "POST", "/api/v1/resources", n.Token, "application/json", strings.NewReader(`{"title":`), 400, "bad_request", "invalid JSON"},
		{"proprietary licence", "POST", "/api/v1/resources", n.Token, "application/json", strings.NewReader(strings.Replace(kitJSON, "CC-BY-SA-4.0", "LicenseRef-proprietary", 1)), 400, "license_refused", "only openly licensed"},
		{"NC licence", "POST", "/api/v1/resources", n.Token, "application/json", strings.NewReader(strings.Replace(kitJSON, "CC-BY-SA-4.0", "CC-BY-NC-SA-4.0", 1)), 400, "license_refused", "--allow-license CC-BY-NC-SA-4.0"},
		{"bad language", "POST", "/api/v1/resources", n.Token, "application/json", strings.NewReader(strings.Replace(kitJSON, `"fr"`, `"french"`, 1)), 400, "invalid", "ISO 639-1"},
		{"bad slug", "POST", "/api/v1/resources", n.Token, "application/json", strings.NewReader(`{"id":"Mon Kit!",` + kitJSON[1:]), 400, "invalid", "lowercase"},
		{"duplicate id", "POST", "/api/v1/resources", n.Token, "application/json", strings.NewReader(`{"id":"` + id + `",` + kitJSON[1:]), 409, "conflict", "already exists"},
		{"too large announced", "PUT", "/api/v1/resources/" + id + "/files/big.pdf", n.Token, "", bytes.NewReader(big), 413, "too_large", "--max-file-size"},
		{"too large streamed", "PUT", "/api/v1/resources/" + id + "/files/big.pdf", n.Token, "", io.MultiReader(bytes.NewReader(big)), 413, "too_large", "--max-file-size"},
		{"dot name", "PUT", "/api/v1/resources/" + id + "/files/.htaccess", n.Token, "", strings.NewReader("x"), 400, "invalid", "dot"},
		{"control char name", "PUT", "/api/v1/resources/" + id + "/files/a%0Ab.pdf", n.Token, "", strings.NewReader("x"), 400, "invalid", "control"},
		{"backslash name", "PUT", "/api/v1/resources/" + id + "/files/a%5Cb.pdf", n.Token, "", strings.NewReader("x"), 400, "invalid", `\`},
		{"missing resource", "PUT", "/api/v1/resources/nope/files/a.pdf", n.Token, "", strings.NewReader("x"), 404, "not_found", "nope"},
		{"missing file", "GET", "/r/" + id + "/files/none.pdf", "", "", nil, 404, "not_found", "none.pdf"},
		{"unknown route", "GET", "/api/v1/nothing", "", "", nil, 404, "not_found", "/api/v1/nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e errBody
			resp := call(t, tc.method, n.URL+tc.path, tc.token, tc.ctype, tc.body, &e)
			if resp.StatusCode != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.contains) {
				t.Fatalf("got %d %+v, want %d %s containing %q", resp.StatusCode, e.Error, tc.status, tc.code, tc.contains)
			}
		})
	}
	r, err := n.Service.Get(context.Background(), id)
	if err != nil || len(r.Files) != 0 {
		t.Fatalf("refused uploads left files: %v %v", r.Files, err)
	}
	if c := blobCount(t, n); c != 0 {
		t.Fatalf("refused uploads left %d blobs", c)
	}
	total, _ := n.Catalog.Count(context.Background())
	if total != 1 {
		t.Fatalf("refused publications changed the catalog: %d resources", total)
	}
}

// A client that dies mid-upload leaves no file and no blob behind.
func TestInterruptedUploadLeavesNothing(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	pr, pw := io.Pipe()
	go func() {
		pw.Write(bytes.Repeat([]byte("y"), 1<<20))
		pw.CloseWithError(fmt.Errorf("client died"))
	}()
	req, _ := http.NewRequest("PUT", n.URL+"/api/v1/resources/"+id+"/files/video.mp4", pr)
	req.ContentLength = 10 << 20
	req.Header.Set("Authorization", "Bearer "+n.Token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	r, _ := n.Service.Get(context.Background(), id)
	if len(r.Files) != 0 {
		t.Fatalf("interrupted upload recorded: %+v", r.Files)
	}
	if c := blobCount(t, n); c != 0 {
		t.Fatalf("interrupted upload left %d blobs", c)
	}
}

// A multipart publication appears with all its files or not at all.
func TestMultipartPublishIsAllOrNothing(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	ctx := context.Background()
	good := node.Upload{Name: "a.pdf", Body: strings.NewReader("%PDF-1.7 a"), Size: -1}
	bad := node.Upload{Name: "b.pdf", Body: strings.NewReader("%PDF-1.7 b"), Size: -1, SHA256: strings.Repeat("0", 64)}
	in := node.Resource{ID: "kit-atomique", Metadata: node.Metadata{Title: "Kit", Kind: "workshop-kit", License: "CC0-1.0", Language: "fr"}}
	_, err := n.Client.Publish(ctx, in, func(yield func(node.Upload) error) error {
		if err := yield(good); err != nil {
			return err
		}
		return yield(bad)
	}, false)
	if err == nil || !strings.Contains(err.Error(), "do not match the declared sha256") {
		t.Fatalf("publish with a wrong digest: %v", err)
	}
	if _, err := n.Service.Get(ctx, "kit-atomique"); err == nil {
		t.Fatal("half-published resource is visible")
	}
	if c := blobCount(t, n); c != 0 {
		t.Fatalf("failed publication left %d blobs", c)
	}
	good.Body = strings.NewReader("%PDF-1.7 a")
	res, err := n.Client.Publish(ctx, in, func(yield func(node.Upload) error) error { return yield(good) }, false)
	if err != nil || len(res.Files) != 1 || res.Files[0].MediaType != "application/pdf" {
		t.Fatalf("publish: %v %+v", err, res)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	n := testnode.Start(t, testnode.Options{Dir: dir})
	id := publish(t, n, kitJSON)["id"].(string)
	data := []byte("kept across restarts")
	call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/f.md", n.Token, "", bytes.NewReader(data), nil)
	n.Close()

	n2 := testnode.Start(t, testnode.Options{Dir: dir})
	resp := call(t, "GET", n2.URL+"/r/"+id+"/files/f.md", "", "", nil, nil)
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("after restart: %d %q", resp.StatusCode, got)
	}
	var list struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	call(t, "GET", n2.URL+"/api/v1/resources", "", "", nil, &list)
	if list.Total != 1 || list.Items[0]["id"] != id {
		t.Fatalf("list after restart: %+v", list)
	}
}
