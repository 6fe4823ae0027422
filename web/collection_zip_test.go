package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/internal/bundle"
)

// TestCollectionZip: a collection downloads as one zip that announces its
// length, holds a folder per item with its files, LICENCE.txt with every
// item's attribution, and a manifest whose digests match the bytes and
// whose signature verifies with the key the hub publishes; a download cut
// half-way resumes with Range and If-Range into the same bytes; a stale
// If-Range gets the whole archive.
func TestCollectionZip(t *testing.T) {
	f := newOrgFixture(t)
	n := f.n
	ctx := context.Background()
	resp := call(t, "PUT", n.URL+"/api/v1/resources/kit-alice/files/video.bin", f.tokens["alice"], "application/octet-stream",
		bytes.NewReader(bytes.Repeat([]byte("0123456789abcdef"), 64<<10)), nil)
	if resp.StatusCode != 201 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	resp, c, e := createCollection(t, f, "alice", `{"title":"Parcours e-mail","items":[{"resource":"kit-carol","note":"Séance 1"},{"resource":"kit-alice","note":"Séance 2"}]}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %+v", resp.StatusCode, e.Error)
	}
	get := func(h map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", n.URL+"/collections/"+c.ID+".zip", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	resp, full := get(nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" || resp.ContentLength != int64(len(full)) {
		t.Fatalf("zip: %d %q length %d for %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength, len(full))
	}
	signer, err := app.BundleSigner(n.App.Config, n.Fed)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := bundle.ParsePublicKeyPEM([]byte(signer.PublicKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	a, err := bundle.Open(bytes.NewReader(full), int64(len(full)))
	if err != nil {
		t.Fatal(err)
	}
	if rep := a.Verify(ctx, pub); !rep.OK() {
		t.Fatalf("the hub's own zip does not verify: %+v", rep.Problems)
	}
	var paths []string
	for _, mf := range a.Manifest().Files {
		paths = append(paths, fmt.Sprintf("%s %d", mf.Path, mf.Size))
	}
	got := strings.Join(paths, "\n")
	for _, want := range []string{"01-kit-carol/guide.txt 5", "02-kit-alice/guide.txt 5", fmt.Sprintf("02-kit-alice/video.bin %d", 16*64<<10)} {
		if !strings.Contains(got, want) {
			t.Errorf("manifest lacks %q:\n%s", want, got)
		}
	}
	if !bytes.Contains(full, []byte("Kit carol")) || !bytes.Contains(full, []byte("CC-BY-SA-4.0")) {
		t.Errorf("LICENCE.txt lacks an item's attribution or licence")
	}
	// A tampered byte in a stored file fails the check, naming the file.
	bad := bytes.Clone(full)
	i := bytes.Index(bad, []byte("0123456789abcdef"))
	bad[i] ^= 1
	if a, err := bundle.Open(bytes.NewReader(bad), int64(len(bad))); err == nil {
		if rep := a.Verify(ctx, pub); rep.OK() || !strings.Contains(fmt.Sprint(rep.Problems), "video.bin") {
			t.Errorf("a changed byte of video.bin: %+v", rep.Problems)
		}
	}

	etag := resp.Header.Get("ETag")
	half := len(full) / 2
	resp, rest := get(map[string]string{"Range": fmt.Sprintf("bytes=%d-", half), "If-Range": etag})
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(append(bytes.Clone(full[:half]), rest...), full) {
		t.Errorf("resumed download: %d, %d bytes; not the same archive", resp.StatusCode, len(rest))
	}
	resp, again := get(map[string]string{"Range": fmt.Sprintf("bytes=%d-", half), "If-Range": `"zip-stale"`})
	if resp.StatusCode != 200 || !bytes.Equal(again, full) {
		t.Errorf("stale If-Range: %d, %d bytes, want the whole archive", resp.StatusCode, len(again))
	}
	if resp, _ := get(nil); resp.Header.Get("ETag") != etag {
		t.Errorf("the same collection's zip changed ETag: %s then %s", etag, resp.Header.Get("ETag"))
	}
	// After a change the archive is another one.
	if r := call(t, "PATCH", n.URL+"/api/v1/collections/"+c.ID, f.tokens["alice"], "application/json", strings.NewReader(`{"title":"Parcours courriel"}`), nil); r.StatusCode != 200 {
		t.Fatalf("patch: %d", r.StatusCode)
	}
	if resp, _ := get(nil); resp.Header.Get("ETag") == etag {
		t.Errorf("a changed collection kept its zip's ETag %s", etag)
	}
	if resp, _ := get(nil); resp.StatusCode != 200 {
		t.Errorf("zip after change: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", n.URL+"/collections/nulle-part.zip", nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 404 {
		t.Errorf("zip of an unknown collection: %v %v", r, err)
	}
}
