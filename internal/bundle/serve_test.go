package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/bundle"
)

// serve serves b; the errors Serve returned are in the slice once the
// answers are read (the server closes a cut answer's connection after the
// handler returns).
func serve(t *testing.T, b *bundle.Bundle) (*httptest.Server, *[]error) {
	t.Helper()
	var errs []error
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := b.Serve(w, r, "premiers-pas.zip"); err != nil {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			if !errors.Is(err, bundle.ErrCut) {
				http.Error(w, "indisponible / unavailable", http.StatusServiceUnavailable)
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &errs
}

func get(t *testing.T, url string, h map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
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

// TestServeResumes: the answer announces the zip's length, and a download
// cut anywhere resumes with Range + If-Range into the same bytes, also for
// sources that cannot seek.
func TestServeResumes(t *testing.T) {
	for _, seekable := range []bool{true, false} {
		t.Run(fmt.Sprint("seekable=", seekable), func(t *testing.T) {
			b, want := build(t, spec(4, []int{50_000, 7, 20_000}, seekable))
			srv, errs := serve(t, b)
			resp, whole := get(t, srv.URL, nil)
			if resp.StatusCode != 200 || resp.ContentLength != b.Size() || !bytes.Equal(whole, want) {
				t.Fatalf("GET: %s, Content-Length %d (size %d), %d bytes, equal %v", resp.Status, resp.ContentLength, b.Size(), len(whole), bytes.Equal(whole, want))
			}
			if resp.Header.Get("ETag") != b.ETag() || resp.Header.Get("Content-Type") != "application/zip" ||
				!strings.Contains(resp.Header.Get("Content-Disposition"), "premiers-pas.zip") {
				t.Errorf("headers %v", resp.Header)
			}
			for _, cut := range []int64{1, 100, b.Size() / 3, b.Size() / 2, b.Size() - 10} {
				resp, rest := get(t, srv.URL, map[string]string{"Range": "bytes=" + strconv.FormatInt(cut, 10) + "-", "If-Range": b.ETag()})
				if resp.StatusCode != http.StatusPartialContent {
					t.Fatalf("resume at %d: %s", cut, resp.Status)
				}
				if got := append(bytes.Clone(whole[:cut]), rest...); !bytes.Equal(got, want) {
					t.Fatalf("resumed at %d: the joined download differs", cut)
				}
			}
			// Another version's ETag in If-Range: the whole zip again.
			if resp, _ := get(t, srv.URL, map[string]string{"Range": "bytes=10-", "If-Range": `"bundle-other"`}); resp.StatusCode != 200 {
				t.Errorf("stale If-Range: %s", resp.Status)
			}
			if resp, body := get(t, srv.URL, map[string]string{"If-None-Match": b.ETag()}); resp.StatusCode != http.StatusNotModified || len(body) != 0 {
				t.Errorf("If-None-Match: %s", resp.Status)
			}
			hr, err := http.Head(srv.URL)
			if err != nil || hr.ContentLength != b.Size() {
				t.Errorf("HEAD: %v, %d", err, hr.ContentLength)
			}
			if len(*errs) != 0 {
				t.Errorf("Serve errors %v", *errs)
			}
		})
	}
}

// TestServeStoreDown: a store that is down is found before the first
// byte (an error the caller answers with 503); a file that fails later
// cuts the answer, which Serve reports as ErrCut.
func TestServeStoreDown(t *testing.T) {
	down := errors.New("store down")
	s := spec(2, []int{40_000}, true)
	s.Items[0].Files[0].Open = func(context.Context) (io.ReadCloser, error) { return nil, down }
	b, err := bundle.Plan(s, signer(t))
	if err != nil {
		t.Fatal(err)
	}
	srv, errs := serve(t, b)
	if resp, _ := get(t, srv.URL, nil); resp.StatusCode != http.StatusServiceUnavailable || len(*errs) != 1 || !errors.Is((*errs)[0], down) {
		t.Fatalf("%s, errors %v", resp.Status, *errs)
	}

	s = spec(2, []int{40_000}, true)
	s.Items[1].Files[0].Open = func(context.Context) (io.ReadCloser, error) { return nil, down }
	b, _ = bundle.Plan(s, signer(t))
	srv, errs = serve(t, b)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil || n >= b.Size() {
		t.Fatalf("%s, read %d of %d, err %v: want a cut download", resp.Status, n, b.Size(), err)
	}
	if len(*errs) != 1 || !errors.Is((*errs)[0], bundle.ErrCut) || !errors.Is((*errs)[0], down) {
		t.Fatalf("errors %v", *errs)
	}
}

// pattern is a file of n bytes made as it is read: no test holds it.
type pattern struct{ n, pos int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.pos >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.pos)]
	n := 0
	for n < len(b) {
		k := copy(b[n:], patternBlock[(p.pos+int64(n))%int64(len(patternBlock)):])
		n += k
	}
	p.pos += int64(n)
	return n, nil
}

// patternBlock repeats through a pattern file; its odd length keeps the
// repeats off any power-of-two boundary.
var patternBlock = randBytes(42, 65536+7)

func (p *pattern) Seek(off int64, whence int) (int64, error) {
	p.pos = off
	return off, nil
}

func (p *pattern) Close() error { return nil }

func patternFile(name string, n int64) bundle.File {
	h, c := sha256.New(), crc32.NewIEEE()
	io.Copy(io.MultiWriter(h, c), &pattern{n: n})
	return bundle.File{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), CRC32: c.Sum32(),
		Open: func(context.Context) (io.ReadCloser, error) { return &pattern{n: n}, nil }}
}

// TestMemoryFlat: writing and verifying a bundle allocate the same
// whether its files hold 1 MiB or 32 MiB.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 3 x 33 MiB")
	}
	k, _ := keys(t)
	alloc := func(size int64) uint64 {
		s := spec(1, nil, true)
		s.Items[0].Files = []bundle.File{patternFile("video.mp4", size)}
		b, err := bundle.Plan(s, signer(t))
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := b.WriteTo(context.Background(), struct{ io.Writer }{io.Discard}); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, big := alloc(1<<20), alloc(32<<20)
	if big > small+(1<<20) {
		t.Fatalf("writing 32 MiB allocated %d bytes, 1 MiB %d: memory grows with the files", big, small)
	}
	// Verify reads each file once through a fixed buffer.
	s := spec(1, nil, true)
	s.Items[0].Files = []bundle.File{patternFile("video.mp4", 32<<20)}
	b, _ := bundle.Plan(s, signer(t))
	var zipped bytes.Buffer
	if _, err := b.WriteTo(context.Background(), &zipped); err != nil {
		t.Fatal(err)
	}
	a, err := bundle.Open(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if rep := a.Verify(context.Background(), &k.PublicKey); !rep.OK() {
		t.Fatal(rep.Problems)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Fatalf("verifying 32 MiB allocated %d bytes", got)
	}
}

// TestVerifyStops: a cancelled context stops a verification.
func TestVerifyStops(t *testing.T) {
	k, _ := keys(t)
	_, data := build(t, spec(3, []int{1000}, true))
	a, err := bundle.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	if rep := a.Verify(ctx, &k.PublicKey); rep.OK() {
		t.Fatal("a stopped verification says OK")
	}
}
