package backup_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/backup"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
)

const fileBody = "les octets de la fiche"

// source is a real data folder (bbolt catalog, disk blobs, keys, config)
// holding one resource with one file.
type source struct {
	dir, config string
	cat         *catalog.Store
	blobs       *blob.Disk
	digest      string
}

func newSource(t testing.TB) *source {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	disk, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Blobs: disk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := node.Resource{ID: "fiche", Metadata: node.Metadata{Title: "Fiche", Kind: "practical-sheet", License: "CC0-1.0"}}
	_, err = svc.Publish(context.Background(), r, func(yield func(node.Upload) error) error {
		return yield(node.Upload{Name: "fiche.pdf", Body: strings.NewReader(fileBody), Size: -1})
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "federation"), 0o700)
	os.WriteFile(filepath.Join(dir, "federation", "actor.pem"), []byte("actor key"), 0o600)
	os.WriteFile(filepath.Join(dir, "session.key"), []byte("session key"), 0o600)
	conf := filepath.Join(t.TempDir(), "communs.toml")
	os.WriteFile(conf, []byte(`hub = "hub-a"`), 0o600)
	sum := sha256.Sum256([]byte(fileBody))
	return &source{dir: dir, config: conf, cat: cat, blobs: disk, digest: hex.EncodeToString(sum[:])}
}

func (s *source) backup(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := backup.Write(context.Background(), &buf, s.cat, backup.Options{DataDir: s.dir, Blobs: s.blobs, ConfigFile: s.config, Referenced: catalog.ReferencedBlobs})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type entry struct {
	name, body, link string
	typ              byte
}

// entries reads an archive back as entries, to build hostile variants of a
// real backup.
func entries(t testing.TB, b []byte) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, entry{name: h.Name, body: string(body), typ: h.Typeflag})
	}
}

func archive(t testing.TB, es []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o600, ModTime: time.Unix(0, 0), Linkname: e.link}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func diskBlobs(dataDir string) func() (node.Blobs, error) {
	return func() (node.Blobs, error) { return blob.NewDisk(filepath.Join(dataDir, "blobs")) }
}

// TestRestoreRoundTrip: a real backup restores keys, config, blobs and a
// catalog that opens and holds the resource.
func TestRestoreRoundTrip(t *testing.T) {
	src := newSource(t)
	data := filepath.Join(t.TempDir(), "data")
	sum, err := backup.Restore(context.Background(), bytes.NewReader(src.backup(t)), data, diskBlobs(data))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Blobs != 1 || len(sum.Keys) != 2 || len(sum.Config) != 1 || sum.Config[0] != filepath.Join(data, "communs.toml") {
		t.Fatalf("summary %+v", sum)
	}
	for _, k := range []string{"federation/actor.pem", "session.key"} {
		a, _ := os.ReadFile(filepath.Join(src.dir, k))
		b, err := os.ReadFile(filepath.Join(data, k))
		if err != nil || string(a) != string(b) {
			t.Fatalf("key %s: %q, %v", k, b, err)
		}
	}
	cat, err := catalog.Open(filepath.Join(data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	if r, err := cat.Get(context.Background(), "fiche"); err != nil || r.Files[0].SHA256 != src.digest {
		t.Fatalf("restored catalog: %+v %v", r, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(data, ".restore-*")); len(leftovers) != 0 {
		t.Fatalf("staging left behind: %v", leftovers)
	}
}

// TestRestoreRefusesForeignLayout: a crafted archive cannot write any path
// under the data folder (through keys/ or config/), cannot turn links into
// empty key files, and cannot slip unknown or mismatched entries in; the
// whole archive is refused and nothing is written.
func TestRestoreRefusesForeignLayout(t *testing.T) {
	src := newSource(t)
	good := entries(t, src.backup(t))
	// good: MANIFEST.json, catalog.db, keys/federation/actor.pem,
	// keys/session.key, config/communs.toml, blobs/<digest>.
	if len(good) != 6 {
		t.Fatalf("unexpected backup layout: %d entries", len(good))
	}
	diskPath := "blobs/" + src.digest[:2] + "/" + src.digest[2:4] + "/" + src.digest
	with := func(extra ...entry) []entry { return append(append([]entry{}, good...), extra...) }
	replace := func(i int, e entry) []entry {
		es := append([]entry{}, good...)
		es[i] = e
		return es
	}
	otherManifest := func(files bool, n int) entry {
		b, _ := json.Marshal(backup.Manifest{Format: 1, Files: files, Blobs: n})
		return entry{name: "MANIFEST.json", body: string(b), typ: tar.TypeReg}
	}
	reg := func(name, body string) entry { return entry{name: name, body: body, typ: tar.TypeReg} }
	tests := []struct {
		name    string
		entries []entry
		want    string
	}{
		{"config writes a blob path", replace(4, reg("config/"+diskPath, "autres octets")), "config entry"},
		{"keys writes a blob path", with(reg("keys/"+diskPath, "autres octets")), "unknown key entry"},
		{"keys writes the catalog", with(reg("keys/catalog.db", "x")), "unknown key entry"},
		{"config climbs out", replace(4, reg("config/../../etc/communs.toml", "x")), "config entry"},
		{"config that is not a config", replace(4, reg("config/session.key", "x")), "config entry"},
		{"two configs", with(reg("config/autre.toml", "x")), "more than one config"},
		{"symlinked key", replace(3, entry{name: "keys/session.key", typ: tar.TypeSymlink, link: "/etc/passwd"}), "symbolic link"},
		{"hard-linked key", replace(3, entry{name: "keys/session.key", typ: tar.TypeLink, link: "catalog.db"}), "hard link"},
		{"folder", with(entry{name: "keys/", typ: tar.TypeDir}), "folder"},
		{"fifo", with(entry{name: "blobs/x", typ: tar.TypeFifo}), "named pipe"},
		{"unknown entry", with(reg("notes.txt", "x")), "unknown entry"},
		{"dot path", replace(1, reg("./catalog.db", good[1].body)), "unknown entry"},
		{"blob bytes differ from digest", replace(5, reg("blobs/"+src.digest, "autres octets")), "do not match its digest"},
		{"blob not named by digest", replace(5, reg("blobs/ab/"+src.digest, fileBody)), "not named by a sha256"},
		{"catalog twice", with(good[1]), "appears twice"},
		{"no catalog", append(append([]entry{}, good[:1]...), good[2:]...), "no catalog"},
		{"catalog is not a database", replace(1, reg("catalog.db", "pas une base")), "not a catalog database"},
		{"manifest not first", append([]entry{good[1]}, good...), "first entry"},
		{"manifest count differs", replace(0, otherManifest(true, 3)), "lists 3 files"},
		{"files without the manifest saying so", replace(0, otherManifest(false, 0)), "holds no files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			data := filepath.Join(parent, "data")
			_, err := backup.Restore(context.Background(), bytes.NewReader(archive(t, tc.entries)), data, diskBlobs(data))
			if !errors.Is(err, backup.ErrRefused) || !strings.Contains(fmt.Sprint(err), tc.want) {
				t.Fatalf("got %v, want refused with %q", err, tc.want)
			}
			if left := tree(t, parent); len(left) != 0 {
				t.Fatalf("a refused backup wrote %v", left)
			}
		})
	}

	// An existing data folder (without a catalog) is left as it was.
	data := t.TempDir()
	os.WriteFile(filepath.Join(data, "notes"), []byte("x"), 0o600)
	_, err := backup.Restore(context.Background(), bytes.NewReader(archive(t, with(reg("notes.txt", "x")))), data, diskBlobs(data))
	if !errors.Is(err, backup.ErrRefused) {
		t.Fatal(err)
	}
	if left := tree(t, data); len(left) != 1 || left[0] != "notes" {
		t.Fatalf("existing folder changed: %v", left)
	}
}

// paxSparse is a PAX sparse 1.0 entry of the given logical size holding 3
// bytes, built by hand (tar.Writer drops GNU.sparse records): archive/tar
// reads it as a regular file and expands its holes.
func paxSparse(name string, realsize int64) []byte {
	recs := ""
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", name}, {"GNU.sparse.realsize", fmt.Sprint(realsize)}} {
		r := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(r) + 2
		for len(fmt.Sprint(n))+len(r) != n {
			n++
		}
		recs += fmt.Sprint(n) + r
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "pax", Typeflag: tar.TypeReg, Size: int64(len(recs)), Format: tar.FormatUSTAR})
	tw.Write([]byte(recs))
	m := []byte("1\n0\n3\n")
	m = append(m, make([]byte, 512-len(m))...)
	data := append(m, 'a', 'b', 'c')
	tw.WriteHeader(&tar.Header{Name: "sparse", Typeflag: tar.TypeReg, Size: int64(len(data)), Format: tar.FormatUSTAR})
	tw.Write(data)
	tw.Close()
	b := buf.Bytes()
	// Turn the first header into a PAX extended header and fix its checksum.
	b[156] = 'x'
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b[:512] {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// TestRestoreRefusesSparseEntries: a 3 KiB archive must not make restore
// write 10 GB of zeros.
func TestRestoreRefusesSparseEntries(t *testing.T) {
	src := newSource(t)
	es := entries(t, src.backup(t))
	head := archive(t, es[:2])
	head = head[:len(head)-1024] // drop the end-of-archive blocks
	for _, name := range []string{"catalog.db", "blobs/" + strings.Repeat("a", 64)} {
		parent := t.TempDir()
		data := filepath.Join(parent, "data")
		b := append(append([]byte{}, head...), paxSparse(name, 10_000_000_000)...)
		if name == "catalog.db" {
			b = append(append([]byte{}, archive(t, es[:1])[:len(archive(t, es[:1]))-1024]...), paxSparse(name, 10_000_000_000)...)
		}
		_, err := backup.Restore(context.Background(), bytes.NewReader(b), data, diskBlobs(data))
		if !errors.Is(err, backup.ErrRefused) || !strings.Contains(err.Error(), "sparse") {
			t.Fatalf("%s: got %v, want refused as sparse", name, err)
		}
		if left := tree(t, parent); len(left) != 0 {
			t.Fatalf("a refused backup wrote %v", left)
		}
	}
}

// tree lists every path under dir.
func tree(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

// FuzzRestore restores fuzzed archives into a fresh data folder: restore
// never panics, never writes outside the data folder, and either refuses
// the whole archive (nothing written) or restores a consistent folder
// (a catalog, known keys, at most one config, blobs that match their
// digest).
func FuzzRestore(f *testing.F) {
	// Seeds are small archives of the real layout (a real catalog is
	// 512 KiB, too big for the mutator): a catalog that only has bbolt's
	// header, keys, a config and one blob.
	fakeCatalog := string(append(make([]byte, 16), 0xED, 0xDA, 0x0C, 0xED, 2, 0, 0, 0))
	sum := sha256.Sum256([]byte(fileBody))
	digest := hex.EncodeToString(sum[:])
	man := func(files bool, n int) entry {
		b, _ := json.Marshal(backup.Manifest{Format: 1, Files: files, Blobs: n})
		return entry{name: "MANIFEST.json", body: string(b), typ: tar.TypeReg}
	}
	reg := func(name, body string) entry { return entry{name: name, body: body, typ: tar.TypeReg} }
	full := []entry{man(true, 1), reg("catalog.db", fakeCatalog), reg("keys/federation/actor.pem", "actor"),
		reg("keys/session.key", "session"), reg("config/communs.toml", "hub = 1"), reg("blobs/"+digest, fileBody)}
	f.Add(archive(f, full))
	f.Add(archive(f, []entry{man(false, 0), reg("catalog.db", fakeCatalog)}))
	f.Add(archive(f, []entry{man(false, 0), reg("catalog.db", fakeCatalog), {name: "keys/session.key", typ: tar.TypeSymlink, link: "/etc/passwd"}}))
	f.Add(archive(f, []entry{man(false, 0), reg("catalog.db", fakeCatalog), reg("config/../x.toml", "x")}))
	f.Add(archive(f, []entry{man(false, 0), reg("catalog.db", fakeCatalog), reg("keys/blobs/"+digest[:2]+"/"+digest[2:4]+"/"+digest, "x")}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		data := filepath.Join(parent, "data")
		sum, err := backup.Restore(context.Background(), bytes.NewReader(b), data, diskBlobs(data))
		if err != nil {
			if !errors.Is(err, backup.ErrRefused) {
				t.Fatalf("refusal without the refused mark: %v", err)
			}
			if left := tree(t, parent); len(left) != 0 {
				t.Fatalf("refused archive wrote %v", left)
			}
			return
		}
		keys := 0
		for _, p := range tree(t, parent) {
			switch {
			case !strings.HasPrefix(p, "data"):
				t.Fatalf("wrote outside the data folder: %s", p)
			case p == "data" || p == "data/catalog.db" || p == "data/federation" || p == "data/blobs":
			case p == "data/session.key" || p == "data/federation/actor.pem":
				keys++
			case strings.HasPrefix(p, "data/blobs/"):
				fi, _ := os.Stat(filepath.Join(parent, p))
				if fi.IsDir() {
					continue
				}
				body, _ := os.ReadFile(filepath.Join(parent, p))
				s := sha256.Sum256(body)
				if filepath.Base(p) != hex.EncodeToString(s[:]) {
					t.Fatalf("blob %s holds other bytes", p)
				}
			case len(sum.Config) == 1 && filepath.Join(parent, p) == sum.Config[0]:
			default:
				t.Fatalf("restore wrote an unexpected path %s", p)
			}
		}
		if _, err := os.Stat(filepath.Join(data, "catalog.db")); err != nil || keys != len(sum.Keys) {
			t.Fatalf("inconsistent restore: catalog %v, %d keys for %v", err, keys, sum.Keys)
		}
	})
}
