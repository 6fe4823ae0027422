package web_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/node"
)

// TestZipResumes: the kit's zip announces its Content-Length and answers
// Range, If-Range and HEAD, so a download cut anywhere resumes into the
// same bytes as a whole download; the archive opens and every file has
// its SHA-256. On disk and on S3. Before, the zip was streamed without a
// length and a Range got the whole archive again.
func TestZipResumes(t *testing.T) {
	t.Run("disk", func(t *testing.T) { checkZipResumes(t, nil) })
	t.Run("s3", func(t *testing.T) { checkZipResumes(t, minioBlobs(t)) })
}

func checkZipResumes(t *testing.T, blobs node.Blobs) {
	n := startLogged(t, blobs)
	id := publishLogged(t, n, kitJSON)
	files := map[string][]byte{}
	for i, size := range []int{300_000, 1, 150_001} {
		name := []string{"guide.pdf", "un-octet.pdf", "diaporama élève.pdf"}[i]
		b := make([]byte, size)
		for j := range b {
			b[j] = byte((j*31 + i*7) % 253)
		}
		files[name] = b
		putFile(t, n, id, name, b)
	}
	url := n.URL + "/r/" + id + ".zip"

	resp, full := raw(t, "GET", url, nil, nil)
	etag := resp.Header.Get("ETag")
	size := len(full)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != strconv.Itoa(size) || resp.Header.Get("Accept-Ranges") != "bytes" ||
		!strings.HasPrefix(etag, `"zip-`) {
		t.Fatalf("zip: %d, Content-Length %q for %d bytes, Accept-Ranges %q, ETag %q",
			resp.StatusCode, resp.Header.Get("Content-Length"), size, resp.Header.Get("Accept-Ranges"), etag)
	}
	checkKitZip(t, full, files)
	if _, again := raw(t, "GET", url, nil, nil); !bytes.Equal(again, full) {
		t.Fatal("two downloads of the same kit differ")
	}

	// curl -C - after a cut: Range from the bytes already there.
	for _, cut := range []int{1, 30, 100_000, size / 2, size - 22, size - 1} {
		resp, rest := raw(t, "GET", url, map[string]string{"Range": fmt.Sprintf("bytes=%d-", cut), "If-Range": etag}, nil)
		if resp.StatusCode != 206 || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", cut, size-1, size) {
			t.Fatalf("resume at %d: %d %q", cut, resp.StatusCode, resp.Header.Get("Content-Range"))
		}
		if !bytes.Equal(append(bytes.Clone(full[:cut]), rest...), full) {
			t.Fatalf("resumed at %d: not the whole download's bytes", cut)
		}
	}
	// In pieces, as a download manager does.
	var pieces []byte
	for first := 0; first < size; first += 65_536 {
		resp, b := raw(t, "GET", url, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", first, first+65_535)}, nil)
		if resp.StatusCode != 206 {
			t.Fatalf("piece at %d: %d", first, resp.StatusCode)
		}
		pieces = append(pieces, b...)
	}
	if !bytes.Equal(pieces, full) {
		t.Fatal("the archive downloaded in pieces differs from the whole")
	}

	for _, c := range []struct {
		name   string
		method string
		hdr    map[string]string
		status int
		cr     string
		body   []byte
	}{
		{"If-Range of another version: whole archive", "GET", map[string]string{"Range": "bytes=100-", "If-Range": `"zip-0000"`}, 200, "", full},
		{"If-Range with a date: whole archive", "GET", map[string]string{"Range": "bytes=100-", "If-Range": "Fri, 04 Dec 2026 10:00:00 GMT"}, 200, "", full},
		{"weak If-Range: whole archive", "GET", map[string]string{"Range": "bytes=100-", "If-Range": "W/" + etag}, 200, "", full},
		{"past the end", "GET", map[string]string{"Range": fmt.Sprintf("bytes=%d-", size)}, 416, fmt.Sprintf("bytes */%d", size), nil},
		{"zero suffix", "GET", map[string]string{"Range": "bytes=-0"}, 416, fmt.Sprintf("bytes */%d", size), nil},
		{"suffix: the end of central directory", "GET", map[string]string{"Range": "bytes=-22"}, 206, fmt.Sprintf("bytes %d-%d/%d", size-22, size-1, size), full[size-22:]},
		{"malformed Range ignored", "GET", map[string]string{"Range": "bytes=x-"}, 200, "", full},
		{"unchanged", "GET", map[string]string{"If-None-Match": etag}, 304, "", []byte{}},
		{"head", "HEAD", nil, 200, "", []byte{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, b := raw(t, c.method, url, c.hdr, nil)
			if resp.StatusCode != c.status || resp.Header.Get("Content-Range") != c.cr {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Range"), c.status, c.cr)
			}
			if c.body != nil && !bytes.Equal(b, c.body) {
				t.Fatalf("%d bytes, want %d", len(b), len(c.body))
			}
			if c.method == "HEAD" && (resp.Header.Get("Content-Length") != strconv.Itoa(size) || resp.Header.Get("ETag") != etag) {
				t.Fatalf("HEAD: Content-Length %q, ETag %q", resp.Header.Get("Content-Length"), resp.Header.Get("ETag"))
			}
		})
	}

	// Several ranges: multipart/byteranges.
	resp, b := raw(t, "GET", url, map[string]string{"Range": "bytes=0-9,-5"}, nil)
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || mt != "multipart/byteranges" {
		t.Fatalf("multi-range: %d %s", resp.StatusCode, mt)
	}
	mr := multipart.NewReader(bytes.NewReader(b), params["boundary"])
	for i, want := range [][]byte{full[:10], full[size-5:]} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := io.ReadAll(p); !bytes.Equal(got, want) {
			t.Fatalf("part %d differs", i)
		}
	}

	if _, err := exec.LookPath("curl"); err == nil {
		// The real thing: curl -C - continues a partial file.
		p := filepath.Join(t.TempDir(), "kit.zip")
		if err := os.WriteFile(p, full[:size/3], 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("curl", "-sS", "-f", "-C", "-", "-o", p, url).CombinedOutput(); err != nil {
			t.Fatalf("curl -C -: %v %s", err, out)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, full) {
			t.Fatalf("curl -C - gave %d bytes, not the archive's %d", len(got), size)
		}
	}

	// A new version of the kit has another ETag: resuming the old one gets
	// the whole new archive.
	putFile(t, n, id, "annexe.pdf", []byte("annexe"))
	resp, b = raw(t, "GET", url, map[string]string{"Range": "bytes=100-", "If-Range": etag}, nil)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == etag {
		t.Fatalf("resume after a change: %d, ETag %q (was %q)", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
	files["annexe.pdf"] = []byte("annexe")
	checkKitZip(t, b, files)
	if lines := n.Log.errorLines(); len(lines) > 0 {
		t.Fatalf("zip requests logged ERROR:\n%s", lines)
	}
}

// checkKitZip opens the archive with archive/zip (which checks each
// entry's CRC-32) and, when installed, Info-ZIP's unzip -t, and checks the
// files' SHA-256 and the generated entries.
func checkKitZip(t *testing.T, b []byte, files map[string][]byte) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("zip does not open: %v", err)
	}
	var names []string
	for _, zf := range zr.File {
		names = append(names, zf.Name)
		rc, err := zf.Open()
		if err != nil {
			t.Fatalf("%s: %v", zf.Name, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", zf.Name, err)
		}
		if want, ok := files[zf.Name]; ok && sha(got) != sha(want) {
			t.Errorf("%s: sha256 %s, uploaded %s", zf.Name, sha(got), sha(want))
		}
	}
	if len(names) != len(files)+2 || names[len(names)-2] != "LICENCE.txt" || names[len(names)-1] != "resource.json" {
		t.Errorf("zip entries %q", names)
	}
	if _, err := exec.LookPath("unzip"); err == nil {
		p := filepath.Join(t.TempDir(), "kit.zip")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("unzip", "-t", p).CombinedOutput(); err != nil || !strings.Contains(string(out), "No errors detected") {
			t.Errorf("unzip -t: %v\n%s", err, out)
		}
	}
}

// TestZipCutWhenABlobVanishes: a file whose blob is gone once the answer
// has started cuts the connection short of Content-Length (the client
// sees an incomplete download, never a complete-looking wrong archive),
// and the log says why.
func TestZipCutWhenABlobVanishes(t *testing.T) {
	n := startLogged(t, nil)
	id := publishLogged(t, n, kitJSON)
	first := bytes.Repeat([]byte("premier "), 40_000)
	second := bytes.Repeat([]byte("second "), 40_000)
	putFile(t, n, id, "premier.pdf", first)
	putFile(t, n, id, "second.pdf", second)
	if err := n.Blobs.Delete(t.Context(), sha(second)); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", n.URL+"/r/"+id+".zip", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || err == nil || int64(len(got)) >= resp.ContentLength {
		t.Fatalf("status %d, read %d of %d bytes, err %v: want a cut connection", resp.StatusCode, len(got), resp.ContentLength, err)
	}
	if !strings.Contains(n.Log.String(), "zip download cut") {
		t.Errorf("no log line for the cut download:\n%s", n.Log.String())
	}
}
