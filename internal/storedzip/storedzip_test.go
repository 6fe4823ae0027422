package storedzip_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/storedzip"
)

// sources maps keys to bytes; opened counts the opens.
type sources struct {
	m      map[string][]byte
	mu     sync.Mutex
	opened int
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (s *sources) open(key string) (io.ReadSeekCloser, error) {
	b, ok := s.m[key]
	if !ok {
		return nil, errors.New("no such source")
	}
	s.mu.Lock()
	s.opened++
	s.mu.Unlock()
	return nopCloser{bytes.NewReader(b)}, nil
}

// readerAt lets archive/zip read a Reader.
type readerAt struct{ r *storedzip.Reader }

func (a readerAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := a.r.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(a.r, p)
}

func kit(t *testing.T) ([]storedzip.Entry, *sources) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	src := &sources{m: map[string][]byte{}}
	when := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	var es []storedzip.Entry
	for i, n := range []int{100_000, 0, 1, 70_000} {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rnd.Uint32())
		}
		key := string(rune('a' + i))
		src.m[key] = b
		name := []string{"guide.pdf", "vide.txt", "un-octet.bin", "diaporama élève.odp"}[i]
		es = append(es, storedzip.Entry{Name: name, Size: int64(n), CRC32: crc32.ChecksumIEEE(b), Modified: when, Key: key})
	}
	notice := []byte("LICENCE: CC-BY-4.0\n")
	es = append(es, storedzip.Entry{Name: "LICENCE.txt", Size: int64(len(notice)), CRC32: crc32.ChecksumIEEE(notice), Modified: when, Data: notice})
	return es, src
}

func whole(t *testing.T, l *storedzip.Layout, src *sources) []byte {
	t.Helper()
	r := l.NewReader(src.open)
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != l.Size() {
		t.Fatalf("read %d bytes, layout says %d", len(b), l.Size())
	}
	return b
}

// TestZipLayoutOpens: archive/zip (and Info-ZIP's unzip -t when installed)
// accept the archive, every entry has its bytes, name, size and time.
func TestZipLayoutOpens(t *testing.T) {
	es, src := kit(t)
	l, err := storedzip.Plan(es)
	if err != nil {
		t.Fatal(err)
	}
	b := whole(t, l, src)
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("archive/zip: %v", err)
	}
	if len(zr.File) != len(es) {
		t.Fatalf("%d entries, want %d", len(zr.File), len(es))
	}
	for i, f := range zr.File {
		e := es[i]
		want := e.Data
		if want == nil {
			want = src.m[e.Key]
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		got, err := io.ReadAll(rc) // checks the CRC-32 at the end
		rc.Close()
		if err != nil || !bytes.Equal(got, want) || f.Name != e.Name || f.Method != zip.Store || !f.Modified.Equal(e.Modified) {
			t.Errorf("entry %d: %q %v modified %v method %d, err %v", i, f.Name, bytes.Equal(got, want), f.Modified, f.Method, err)
		}
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

// TestZipLayoutDeterministicAndSeekable: planning twice gives the same
// bytes, and any range read after a seek equals the same slice of a whole
// read, without reopening a source for a forward read.
func TestZipLayoutDeterministicAndSeekable(t *testing.T) {
	es, src := kit(t)
	l1, _ := storedzip.Plan(es)
	l2, _ := storedzip.Plan(es)
	b := whole(t, l1, src)
	if !bytes.Equal(b, whole(t, l2, src)) {
		t.Fatal("two plans of the same entries differ")
	}
	r := l1.NewReader(src.open)
	defer r.Close()
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		first := rnd.Int64N(int64(len(b)))
		n := rnd.Int64N(int64(len(b))-first) + 1
		if _, err := r.Seek(first, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		var err error
		if rnd.IntN(2) == 0 {
			_, err = r.CopyTo(&got, n)
		} else {
			_, err = io.CopyN(&got, r, n)
		}
		if err != nil || !bytes.Equal(got.Bytes(), b[first:first+n]) {
			t.Fatalf("range %d+%d differs (err %v)", first, n, err)
		}
	}
	// Reading on from the end of a range continues the open source.
	// (Fresh counters: sources opened ahead above may still be closing.)
	src = &sources{m: src.m}
	r2 := l1.NewReader(src.open)
	io.Copy(io.Discard, io.LimitReader(r2, 50_000))
	io.Copy(io.Discard, r2)
	r2.Close()
	if src.opened != 3 { // three entries with bytes come from sources
		t.Errorf("a sequential read opened sources %d times, want 3", src.opened)
	}
	// A copy across entries opens each next source ahead, and uses it; a
	// copy within one entry opens nothing ahead.
	for _, c := range []struct {
		first, n int64
		opens    int
	}{{0, l1.Size(), 3}, {200, 1000, 1}} {
		src := &sources{m: src.m}
		r3 := l1.NewReader(src.open)
		r3.Seek(c.first, io.SeekStart)
		var got bytes.Buffer
		if _, err := r3.CopyTo(&got, c.n); err != nil || !bytes.Equal(got.Bytes(), b[c.first:c.first+c.n]) {
			t.Fatalf("CopyTo %d+%d: %v", c.first, c.n, err)
		}
		r3.Close()
		if src.opened != c.opens {
			t.Errorf("CopyTo %d+%d opened sources %d times, want %d", c.first, c.n, src.opened, c.opens)
		}
	}
}

// TestZipLayoutSourceShort: a source shorter than its declared size is an
// error (never a silently wrong archive).
func TestZipLayoutSourceShort(t *testing.T) {
	es, src := kit(t)
	src.m["a"] = src.m["a"][:10]
	l, _ := storedzip.Plan(es)
	r := l.NewReader(src.open)
	_, err := io.Copy(io.Discard, r)
	if !errors.Is(err, io.ErrUnexpectedEOF) || r.Err == nil {
		t.Errorf("short source: err %v, Err %v", err, r.Err)
	}
}

func TestZipLayoutRefuses(t *testing.T) {
	for _, e := range []storedzip.Entry{
		{Name: "", Size: 1, Key: "a"},
		{Name: strings.Repeat("a", 70_000), Key: "a"},
		{Name: "bad\xff.txt", Key: "a"},
		{Name: "neg.bin", Size: -1, Key: "a"},
		{Name: "gen.txt", Size: 3, Data: []byte("ab")},
	} {
		if _, err := storedzip.Plan([]storedzip.Entry{e}); err == nil {
			t.Errorf("Plan accepted %.20q size %d", e.Name, e.Size)
		}
	}
}

// zeros is a source of n zero bytes that holds none of them.
type zeros struct{ n, pos int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.pos >= z.n {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n-z.pos)
	clear(p[:k])
	z.pos += k
	return int(k), nil
}

func (z *zeros) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekStart {
		return 0, errors.New("only from the start")
	}
	z.pos = off
	return off, nil
}

func (z *zeros) Close() error { return nil }

// TestZipLayoutZip64: entries larger than 4 GiB, offsets past 4 GiB and more
// than 65535 entries use ZIP64 records that archive/zip reads back: sizes,
// the offset of an entry after a 5 GiB one (its bytes and CRC check out),
// and the number of entries. Nothing is held in memory but headers.
func TestZipLayoutZip64(t *testing.T) {
	const big = 5 << 30
	small := []byte("après le gros fichier")
	es := []storedzip.Entry{
		{Name: "video.mp4", Size: big, CRC32: 0x12345678, Key: "big"},
		{Name: "notes.txt", Size: int64(len(small)), CRC32: crc32.ChecksumIEEE(small), Data: small},
	}
	open := func(key string) (io.ReadSeekCloser, error) { return &zeros{n: big}, nil }
	l, err := storedzip.Plan(es)
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() < big {
		t.Fatalf("size %d", l.Size())
	}
	zr, err := zip.NewReader(readerAt{l.NewReader(open)}, l.Size())
	if err != nil {
		t.Fatalf("archive/zip: %v", err)
	}
	if len(zr.File) != 2 || zr.File[0].UncompressedSize64 != big || zr.File[0].CompressedSize64 != big || zr.File[0].CRC32 != 0x12345678 {
		t.Fatalf("big entry read back as %+v", zr.File[0].FileHeader)
	}
	off, err := zr.File[1].DataOffset()
	if err != nil || off <= big {
		t.Fatalf("second entry at %d (%v)", off, err)
	}
	rc, err := zr.File[1].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, small) {
		t.Errorf("entry after 5 GiB: %q, %v", got, err)
	}

	// 70 000 empty entries: the count needs the ZIP64 end record.
	many := make([]storedzip.Entry, 70_000)
	for i := range many {
		many[i] = storedzip.Entry{Name: "f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "-" + itoa(i), Data: []byte{}}
	}
	l, err = storedzip.Plan(many)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(l.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	zr, err = zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil || len(zr.File) != len(many) || zr.File[69_999].Name != many[69_999].Name {
		t.Fatalf("70 000 entries: %v", err)
	}
}

func itoa(i int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + i%10)}, b...)
		if i /= 10; i == 0 {
			return string(b)
		}
	}
}
