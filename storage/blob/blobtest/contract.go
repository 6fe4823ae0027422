// Package blobtest is the contract every node.Blobs implementation must
// pass, so the disk and S3 stores cannot drift apart in behaviour the node
// relies on.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

// Reader returns n deterministic pseudo-random bytes for seed. It is fast
// (ChaCha8) and holds nothing in memory, for big-file tests and benchmarks.
func Reader(seed uint64, n int64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

// Bytes is Reader held in memory.
func Bytes(seed uint64, n int) []byte {
	b, err := io.ReadAll(Reader(seed, int64(n)))
	if err != nil {
		panic(err)
	}
	return b
}

// Digest is the lowercase hex SHA-256 of b.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// ErrSourceBroken is what a FailingReader returns.
var ErrSourceBroken = errors.New("blobtest: source broke mid-stream")

// FailingReader yields the first n bytes of r, then ErrSourceBroken, like a
// client that disconnects during an upload.
func FailingReader(r io.Reader, n int64) io.Reader {
	return io.MultiReader(io.LimitReader(r, n), errReader{})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, ErrSourceBroken }

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Run checks store semantics on fresh stores made by newStore, one per
// subtest, which must start empty.
func Run(t *testing.T, newStore func(t *testing.T) node.Blobs) {
	t.Run("RoundTrip", func(t *testing.T) {
		for _, size := range []int{1, 1000, 1<<20 + 7} {
			for _, verify := range []bool{false, true} {
				t.Run(fmt.Sprintf("size=%d/want=%v", size, verify), func(t *testing.T) {
					s := newStore(t)
					data := Bytes(uint64(size), size)
					want := ""
					if verify {
						want = Digest(data)
					}
					b := mustPut(t, s, bytes.NewReader(data), want)
					if b.SHA256 != Digest(data) || b.Size != int64(size) {
						t.Fatalf("Put = %+v, want {%s %d}", b, Digest(data), size)
					}
					if got := readAll(t, s, b.SHA256); !bytes.Equal(got, data) {
						t.Fatalf("read back %d bytes differing from the %d put", len(got), size)
					}
					n, err := s.Stat(ctx(t), b.SHA256)
					if err != nil || n != int64(size) {
						t.Fatalf("Stat = %d, %v; want %d", n, err, size)
					}
				})
			}
		}
	})

	t.Run("Empty", func(t *testing.T) {
		s := newStore(t)
		b := mustPut(t, s, strings.NewReader(""), "")
		if b.SHA256 != emptySHA256 || b.Size != 0 {
			t.Fatalf("Put(empty) = %+v", b)
		}
		r, err := s.Open(ctx(t), emptySHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Size() != 0 {
			t.Fatalf("Size = %d", r.Size())
		}
		if got, err := io.ReadAll(r); err != nil || len(got) != 0 {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
		if got := walk(t, s); len(got) != 1 || got[emptySHA256] != 0 {
			t.Fatalf("Walk = %v", got)
		}
	})

	t.Run("Dedupe", func(t *testing.T) {
		s := newStore(t)
		data := Bytes(7, 300_000)
		b1 := mustPut(t, s, bytes.NewReader(data), "")
		b2 := mustPut(t, s, bytes.NewReader(data), Digest(data))
		b3 := mustPut(t, s, bytes.NewReader(data), "")
		if b1 != b2 || b1 != b3 {
			t.Fatalf("same bytes, different blobs: %+v %+v %+v", b1, b2, b3)
		}
		if got := walk(t, s); len(got) != 1 || got[b1.SHA256] != b1.Size {
			t.Fatalf("Walk = %v, want only %+v", got, b1)
		}
		if got := readAll(t, s, b1.SHA256); !bytes.Equal(got, data) {
			t.Fatal("content changed after storing it again")
		}
	})

	t.Run("DigestMismatchStoresNothing", func(t *testing.T) {
		for _, size := range []int{0, 10, 17 << 20} { // 17 MiB spans more than one S3 part
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				s := newStore(t)
				data := Bytes(3, size)
				wrong := Digest([]byte("something else"))
				_, err := s.Put(ctx(t), bytes.NewReader(data), wrong)
				if !errors.Is(err, node.ErrDigestMismatch) {
					t.Fatalf("Put with wrong digest: err = %v, want ErrDigestMismatch", err)
				}
				if !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), Digest(data)) {
					t.Errorf("error %q should name the expected and actual digests", err)
				}
				for _, sha := range []string{wrong, Digest(data)} {
					if _, err := s.Open(ctx(t), sha); !errors.Is(err, node.ErrNotFound) {
						t.Errorf("Open(%s) after mismatch: err = %v, want ErrNotFound", sha, err)
					}
				}
				if got := walk(t, s); len(got) != 0 {
					t.Fatalf("Walk after mismatch = %v, want nothing", got)
				}
			})
		}
	})

	t.Run("DigestMismatchKeepsExistingBlob", func(t *testing.T) {
		// Different bytes claiming an existing digest must neither be
		// accepted nor damage the stored blob.
		s := newStore(t)
		good := Bytes(11, 5000)
		b := mustPut(t, s, bytes.NewReader(good), "")
		_, err := s.Put(ctx(t), bytes.NewReader(Bytes(12, 5000)), b.SHA256)
		if !errors.Is(err, node.ErrDigestMismatch) {
			t.Fatalf("err = %v, want ErrDigestMismatch", err)
		}
		if got := readAll(t, s, b.SHA256); !bytes.Equal(got, good) {
			t.Fatal("stored blob changed by a mismatching Put")
		}
		if got := walk(t, s); len(got) != 1 {
			t.Fatalf("Walk = %v, want only %s", got, b.SHA256)
		}
	})

	t.Run("FailingSourceStoresNothing", func(t *testing.T) {
		cases := []struct {
			name     string
			size, at int64
			want     bool
		}{
			{"at-start", 1000, 0, false},
			{"midway", 1000, 500, false},
			{"after-one-s3-part", 20 << 20, 17 << 20, false},
			{"midway-digest-known", 1000, 500, true},
			{"after-one-s3-part-digest-known", 20 << 20, 17 << 20, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s := newStore(t)
				data := Bytes(5, int(tc.size))
				want := ""
				if tc.want {
					want = Digest(data)
				}
				_, err := s.Put(ctx(t), FailingReader(bytes.NewReader(data), tc.at), want)
				if !errors.Is(err, ErrSourceBroken) {
					t.Fatalf("err = %v, want the source's error", err)
				}
				if errors.Is(err, node.ErrUnavailable) {
					t.Errorf("a broken source was blamed on the store: %v", err)
				}
				for _, sha := range []string{Digest(data), Digest(data[:tc.at])} {
					if _, err := s.Stat(ctx(t), sha); !errors.Is(err, node.ErrNotFound) {
						t.Errorf("Stat(%s) after failed Put: err = %v, want ErrNotFound", sha, err)
					}
				}
				if got := walk(t, s); len(got) != 0 {
					t.Fatalf("Walk after failed Put = %v, want nothing", got)
				}
			})
		}
	})

	t.Run("CancelledPutStoresNothing", func(t *testing.T) {
		// Cancel once the store has started reading, as when a client
		// aborts a large upload; 40 MiB: with parts already sent.
		for _, c := range []struct {
			size, after int64
			declare     bool
		}{{4 << 20, 1 << 20, false}, {40 << 20, 20 << 20, false}, {40 << 20, 20 << 20, true}} {
			t.Run(fmt.Sprintf("size=%d/declared=%v", c.size, c.declare), func(t *testing.T) {
				s := newStore(t)
				cx, cancel := context.WithCancel(ctx(t))
				want := ""
				if c.declare {
					h := sha256.New()
					io.Copy(h, Reader(9, c.size))
					want = hex.EncodeToString(h.Sum(nil))
				}
				r := &hookReader{r: Reader(9, c.size), after: c.after, hook: cancel}
				if _, err := s.Put(cx, r, want); !errors.Is(err, context.Canceled) {
					t.Fatalf("Put cancelled midway: err = %v, want context.Canceled", err)
				}
				if got := walk(t, s); len(got) != 0 {
					t.Fatalf("Walk after cancelled Put = %v, want nothing", got)
				}
			})
		}
	})

	t.Run("Missing", func(t *testing.T) {
		s := newStore(t)
		sha := Digest([]byte("never stored"))
		if _, err := s.Open(ctx(t), sha); !errors.Is(err, node.ErrNotFound) {
			t.Errorf("Open: err = %v, want ErrNotFound", err)
		}
		if _, err := s.Stat(ctx(t), sha); !errors.Is(err, node.ErrNotFound) {
			t.Errorf("Stat: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := newStore(t)
		keep := mustPut(t, s, strings.NewReader("keep me"), "")
		gone := mustPut(t, s, strings.NewReader("delete me"), "")
		for i := range 2 { // the second time the blob is already gone
			if err := s.Delete(ctx(t), gone.SHA256); err != nil {
				t.Fatalf("Delete #%d: %v", i+1, err)
			}
		}
		if err := s.Delete(ctx(t), Digest([]byte("never stored"))); err != nil {
			t.Fatalf("Delete of a never stored blob: %v", err)
		}
		if _, err := s.Open(ctx(t), gone.SHA256); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("Open after Delete: err = %v, want ErrNotFound", err)
		}
		if got := walk(t, s); len(got) != 1 || got[keep.SHA256] != keep.Size {
			t.Fatalf("Walk = %v, want only %+v", got, keep)
		}
		// Deleted bytes can be stored again.
		if again := mustPut(t, s, strings.NewReader("delete me"), ""); string(readAll(t, s, again.SHA256)) != "delete me" {
			t.Fatal("re-put after delete does not read back")
		}
	})

	t.Run("SeekRanges", func(t *testing.T) {
		s := newStore(t)
		data := Bytes(21, 3<<20+123)
		b := mustPut(t, s, bytes.NewReader(data), "")
		size := int64(len(data))
		r, err := s.Open(ctx(t), b.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Size() != size {
			t.Fatalf("Size = %d, want %d", r.Size(), size)
		}
		// Deliberately out of order and on one reader: backward seeks must
		// work after forward reads.
		ranges := []struct {
			name     string
			off, len int64
		}{
			{"middle", size / 2, 4096},
			{"start", 0, 100},
			{"end", size - 10, 10},
			{"across-1MiB", 1<<20 - 5, 10},
			{"start-again", 1, 1 << 20},
		}
		for _, rg := range ranges {
			if pos, err := r.Seek(rg.off, io.SeekStart); err != nil || pos != rg.off {
				t.Fatalf("%s: Seek(%d) = %d, %v", rg.name, rg.off, pos, err)
			}
			got := make([]byte, rg.len)
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatalf("%s: read %d bytes at %d: %v", rg.name, rg.len, rg.off, err)
			}
			if !bytes.Equal(got, data[rg.off:rg.off+rg.len]) {
				t.Fatalf("%s: wrong bytes at offset %d", rg.name, rg.off)
			}
		}
		if end, err := r.Seek(0, io.SeekEnd); err != nil || end != size {
			t.Fatalf("Seek(0, End) = %d, %v; want %d", end, err, size)
		}
		if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
			t.Fatalf("Read at end = %d, %v; want 0, EOF", n, err)
		}
		if pos, err := r.Seek(-5, io.SeekEnd); err != nil || pos != size-5 {
			t.Fatalf("Seek(-5, End) = %d, %v", pos, err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, data[size-5:]) {
			t.Fatalf("tail after Seek(-5, End) = %x, %v", got, err)
		}
	})

	t.Run("ServeContentRanges", func(t *testing.T) {
		// The HTTP layer hands BlobReaders to http.ServeContent, which seeks
		// to the end to learn the size and back to each range.
		s := newStore(t)
		data := Bytes(22, 2<<20)
		b := mustPut(t, s, bytes.NewReader(data), "")
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			r, err := s.Open(req.Context(), b.SHA256)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer r.Close()
			http.ServeContent(w, req, "blob", time.Time{}, r)
		}))
		defer srv.Close()
		n := len(data)
		cases := []struct {
			rng    string
			status int
			want   []byte
		}{
			{"", http.StatusOK, data},
			{"bytes=0-99", http.StatusPartialContent, data[:100]},
			{"bytes=1048576-1049599", http.StatusPartialContent, data[1<<20 : 1<<20+1024]},
			{"bytes=-10", http.StatusPartialContent, data[n-10:]},
			{fmt.Sprintf("bytes=%d-", n-3), http.StatusPartialContent, data[n-3:]},
		}
		for _, tc := range cases {
			req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, srv.URL, nil)
			if tc.rng != "" {
				req.Header.Set("Range", tc.rng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("Range %q: %v", tc.rng, err)
			}
			if resp.StatusCode != tc.status || !bytes.Equal(body, tc.want) {
				t.Fatalf("Range %q: status %d, %d bytes (equal=%v); want %d, %d bytes",
					tc.rng, resp.StatusCode, len(body), bytes.Equal(body, tc.want), tc.status, len(tc.want))
			}
		}
	})

	t.Run("Large", func(t *testing.T) {
		s := newStore(t)
		const size = 20 << 20
		h := sha256.New()
		io.Copy(h, Reader(42, size))
		want := hex.EncodeToString(h.Sum(nil))
		b := mustPut(t, s, Reader(42, size), "")
		if b.SHA256 != want || b.Size != size {
			t.Fatalf("Put = %+v, want {%s %d}", b, want, size)
		}
		r, err := s.Open(ctx(t), b.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		h.Reset()
		if n, err := io.Copy(h, r); err != nil || n != size {
			t.Fatalf("read back %d bytes, %v", n, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Fatalf("read back digest %s, want %s", got, want)
		}
	})

	// Blobs of several parts (S3 sends 16 MiB parts; a blob of unknown
	// digest that size is stored behind a pointer) keep the whole contract.
	t.Run("LargeLifecycle", func(t *testing.T) {
		s := newStore(t)
		const size = 33<<20 + 5 // three parts, the last one short
		data := Bytes(43, size)
		want := Digest(data)
		for i, declared := range []string{"", "", want} {
			if b := mustPut(t, s, bytes.NewReader(data), declared); b.SHA256 != want || b.Size != size {
				t.Fatalf("Put #%d = %+v, want {%s %d}", i+1, b, want, size)
			}
		}
		if _, err := s.Put(ctx(t), bytes.NewReader(data[:size-1]), want); !errors.Is(err, node.ErrDigestMismatch) {
			t.Fatalf("Put of other bytes under the digest: %v, want ErrDigestMismatch", err)
		}
		if got := walk(t, s); len(got) != 1 || got[want] != size {
			t.Fatalf("Walk = %v, want {%s: %d}", got, want, size)
		}
		if n, err := s.Stat(ctx(t), want); err != nil || n != size {
			t.Fatalf("Stat = %d, %v", n, err)
		}
		r, err := s.Open(ctx(t), want)
		if err != nil {
			t.Fatal(err)
		}
		if r.Size() != size {
			t.Fatalf("Size() = %d", r.Size())
		}
		// Across a part boundary, then back to the start.
		for _, at := range []int64{16<<20 - 3, 0, size - 10} {
			if _, err := r.Seek(at, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 10)
			if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, data[at:at+10]) {
				t.Fatalf("10 bytes at %d: %v", at, err)
			}
		}
		r.Close()
		if got := readAll(t, s, want); !bytes.Equal(got, data) {
			t.Fatal("content wrong")
		}
		if err := s.Delete(ctx(t), want); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx(t), want); !errors.Is(err, node.ErrNotFound) {
			t.Fatalf("Open after Delete: %v", err)
		}
		if got := walk(t, s); len(got) != 0 {
			t.Fatalf("Walk after Delete = %v", got)
		}
	})

	t.Run("LargeConcurrentSamePut", func(t *testing.T) {
		s := newStore(t)
		data := Bytes(44, 17<<20)
		const n = 3
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.Put(ctx(t), bytes.NewReader(data), "")
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("Put #%d: %v", i, err)
			}
		}
		if got := walk(t, s); len(got) != 1 || got[Digest(data)] != int64(len(data)) {
			t.Fatalf("Walk = %v, want one blob", got)
		}
		if got := readAll(t, s, Digest(data)); !bytes.Equal(got, data) {
			t.Fatal("content wrong after concurrent puts")
		}
	})

	t.Run("ConcurrentSamePut", func(t *testing.T) {
		s := newStore(t)
		data := Bytes(31, 2<<20)
		const n = 8
		var wg sync.WaitGroup
		blobs := make([]node.Blob, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := ""
				if i%2 == 1 {
					want = Digest(data)
				}
				blobs[i], errs[i] = s.Put(ctx(t), bytes.NewReader(data), want)
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("Put #%d: %v", i, errs[i])
			}
			if blobs[i].SHA256 != Digest(data) || blobs[i].Size != int64(len(data)) {
				t.Fatalf("Put #%d = %+v", i, blobs[i])
			}
		}
		if got := walk(t, s); len(got) != 1 {
			t.Fatalf("Walk = %v, want one blob", got)
		}
		if got := readAll(t, s, Digest(data)); !bytes.Equal(got, data) {
			t.Fatal("content wrong after concurrent puts")
		}
	})

	t.Run("WalkListsAll", func(t *testing.T) {
		s := newStore(t)
		want := map[string]int64{}
		for i := range 12 {
			data := Bytes(uint64(100+i), 10*i)
			b := mustPut(t, s, bytes.NewReader(data), "")
			want[b.SHA256] = b.Size
		}
		got := walk(t, s)
		if len(got) != len(want) {
			t.Fatalf("Walk found %d blobs, want %d", len(got), len(want))
		}
		for sha, size := range want {
			if g, ok := got[sha]; !ok || g != size {
				t.Errorf("Walk: %s = %d (found %v), want %d", sha, g, ok, size)
			}
		}
		stop := errors.New("stop")
		calls := 0
		err := s.Walk(ctx(t), func(node.Blob) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("Walk with fn failing: err = %v after %d calls, want stop after 1", err, calls)
		}
	})

	t.Run("InvalidDigest", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, strings.NewReader("x"), "")
		bad := []string{
			"",
			"../../etc/passwd",
			"../../../../../../../../../../../../../../../../../../etc/passwd",
			"ab/../../../../../../../../../../../../../../../../../../../../etc",
			strings.ToUpper(Digest([]byte("x"))),
			Digest([]byte("x"))[:63],
			Digest([]byte("x")) + "0",
			strings.Repeat("g", 64),
			Digest([]byte("x"))[:62] + "/x",
		}
		for _, sha := range bad {
			if _, err := s.Open(ctx(t), sha); !errors.Is(err, node.ErrInvalid) {
				t.Errorf("Open(%q): err = %v, want ErrInvalid", sha, err)
			}
			if _, err := s.Stat(ctx(t), sha); !errors.Is(err, node.ErrInvalid) {
				t.Errorf("Stat(%q): err = %v, want ErrInvalid", sha, err)
			}
			if err := s.Delete(ctx(t), sha); !errors.Is(err, node.ErrInvalid) {
				t.Errorf("Delete(%q): err = %v, want ErrInvalid", sha, err)
			}
			if sha == "" {
				continue // an empty wantSHA256 means "not known"
			}
			if _, err := s.Put(ctx(t), strings.NewReader("y"), sha); !errors.Is(err, node.ErrInvalid) {
				t.Errorf("Put(want %q): err = %v, want ErrInvalid", sha, err)
			}
		}
		if got := walk(t, s); len(got) != 1 || got[Digest([]byte("x"))] != 1 {
			t.Fatalf("Walk = %v, want only the blob of \"x\"", got)
		}
	})
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustPut(t *testing.T, s node.Blobs, r io.Reader, want string) node.Blob {
	t.Helper()
	b, err := s.Put(ctx(t), r, want)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return b
}

func readAll(t *testing.T, s node.Blobs, sha string) []byte {
	t.Helper()
	r, err := s.Open(ctx(t), sha)
	if err != nil {
		t.Fatalf("Open(%s): %v", sha, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", sha, err)
	}
	if int64(len(b)) != r.Size() {
		t.Fatalf("read %d bytes of %s, Size() says %d", len(b), sha, r.Size())
	}
	return b
}

func walk(t *testing.T, s node.Blobs) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := s.Walk(ctx(t), func(b node.Blob) error {
		if _, dup := got[b.SHA256]; dup {
			t.Errorf("Walk listed %s twice", b.SHA256)
		}
		got[b.SHA256] = b.Size
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return got
}

// hookReader calls hook once after more than `after` bytes were read.
type hookReader struct {
	r     io.Reader
	after int64
	n     int64
	hook  func()
	done  bool
}

func (h *hookReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n += int64(n)
	if !h.done && h.n > h.after {
		h.done = true
		h.hook()
	}
	return n, err
}
