package web_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/storage/blob"
)

// TestStorageDown: a node on MinIO whose server goes away answers 503 with
// a message that says nothing changed, keeps its catalog as it was, and
// works again as soon as MinIO is back, without a restart.
func TestStorageDown(t *testing.T) {
	m := testenv.StartMinIO(t)
	s3, err := blob.NewS3(t.Context(), blob.S3Config{Endpoint: m.Endpoint, Bucket: m.Bucket(t),
		AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true, PathStyle: "path"})
	if err != nil {
		t.Fatal(err)
	}
	n := testnode.Start(t, testnode.Options{Blobs: s3})
	id := publish(t, n, kitJSON)["id"].(string)
	before := []byte("%PDF-1.7 stored before the outage")
	if resp := call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/guide.pdf", n.Token, "application/pdf", bytes.NewReader(before), nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d", resp.StatusCode)
	}

	m.Stop()
	var e errBody
	resp := call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/annexe.pdf", n.Token, "application/pdf", strings.NewReader("%PDF-1.7 new"), &e)
	if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "unavailable" || !strings.Contains(e.Error.Message, "nothing was changed") {
		t.Fatalf("upload with storage down: %d %+v", resp.StatusCode, e.Error)
	}
	resp = call(t, "GET", n.URL+"/r/"+id+"/files/guide.pdf", "", "", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("download with storage down: %d, want 503", resp.StatusCode)
	}
	// A person following the link gets the error page, in French first.
	req, _ := http.NewRequest("GET", n.URL+"/r/"+id+"/files/guide.pdf", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	page, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(html), `lang="fr"`) || page.Header.Get("Retry-After") == "" {
		t.Fatalf("storage-down page for a browser: %d %s\n%s", page.StatusCode, page.Header.Get("Content-Type"), html)
	}
	var got map[string]any
	call(t, "GET", n.URL+"/api/v1/resources/"+id, "", "", nil, &got)
	if files := got["files"].([]any); len(files) != 1 {
		t.Fatalf("the failed upload changed the catalog: %v", files)
	}

	m.Start()
	resp = call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/annexe.pdf", n.Token, "application/pdf", strings.NewReader("%PDF-1.7 new"), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload once MinIO is back: %d", resp.StatusCode)
	}
	resp = call(t, "GET", n.URL+"/r/"+id+"/files/guide.pdf", "", "", nil, nil)
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body.Bytes(), before) {
		t.Fatalf("download once MinIO is back: %d %q", resp.StatusCode, body.Bytes())
	}
}
