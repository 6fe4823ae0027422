package kit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/kit"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

const secret = "session key: 0123456789abcdef, never to be served"

func kitMeta(names ...string) string {
	var files []string
	for _, n := range names {
		files = append(files, fmt.Sprintf(`{"name":%q,"media_type":"application/pdf"}`, n))
	}
	return `{"id":"k","title":"T","kind":"tutorial","license":"CC0-1.0","language":"fr","hub":"hubik","files":[` + strings.Join(files, ",") + `]}`
}

// importers are the two ways kits are imported: one by one (kit.Import,
// and kit.ImportAll through the admin socket's client) and in batches
// (kit.ImportAll on a node.Service). Every refusal holds for both.
var importers = []struct {
	name string
	fn   func(ctx context.Context, b kit.Backend, dir string) kit.Result
}{
	{"one by one", kit.Import},
	{"batched", func(ctx context.Context, b kit.Backend, dir string) kit.Result {
		if _, ok := b.(kit.BatchBackend); !ok {
			panic("batched import needs a BatchBackend")
		}
		var res kit.Result
		if err := kit.ImportAll(ctx, b, []string{dir}, func(r kit.Result) { res = r }); err != nil {
			res.Err = err
		}
		return res
	}},
}

// importWithin runs kit.Import and fails the test if it does not come back
// in time: a kit holding a FIFO must not block the import.
func importWithin(t *testing.T, b kit.Backend, dir string) kit.Result {
	t.Helper()
	return importWithinBy(t, kit.Import, b, dir)
}

func importWithinBy(t *testing.T, imp func(context.Context, kit.Backend, string) kit.Result, b kit.Backend, dir string) kit.Result {
	t.Helper()
	done := make(chan kit.Result, 1)
	go func() { done <- imp(context.Background(), b, dir) }()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("import blocked")
		return kit.Result{}
	}
}

// TestImportNeverReadsOutsideTheKit: a kit folder can hold a symbolic link
// to session.key (or any file the importing user can read), a hard link to
// it, a FIFO or a socket; import refuses each with its reason, never
// follows the link, and the secret's bytes never reach the blob store.
func TestImportNeverReadsOutsideTheKit(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	outside := t.TempDir()
	secretPath := filepath.Join(outside, "session.key")
	if err := os.WriteFile(secretPath, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	metaOutside := filepath.Join(outside, "meta.json")
	os.WriteFile(metaOutside, []byte(kitMeta("a.pdf")), 0o600)
	realKit := filepath.Join(outside, "real-kit")
	os.MkdirAll(realKit, 0o755)
	os.WriteFile(filepath.Join(realKit, "resource.json"), []byte(kitMeta("a.pdf")), 0o644)
	os.WriteFile(filepath.Join(realKit, "a.pdf"), []byte(secret), 0o644)

	tests := []struct {
		name  string
		setup func(t *testing.T, d string)
		want  string
	}{
		{"symlink to a secret", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta("a.pdf")), 0o644)
			must(t, os.Symlink(secretPath, filepath.Join(d, "a.pdf")))
		}, `file "a.pdf" is a symbolic link`},
		{"relative symlink out of the folder", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta("a.pdf")), 0o644)
			rel, _ := filepath.Rel(d, secretPath)
			must(t, os.Symlink(rel, filepath.Join(d, "a.pdf")))
		}, `file "a.pdf" is a symbolic link`},
		{"symlink inside the folder", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta("a.pdf")), 0o644)
			os.WriteFile(filepath.Join(d, "b.bin"), []byte("b"), 0o644)
			must(t, os.Symlink("b.bin", filepath.Join(d, "a.pdf")))
		}, `file "a.pdf" is a symbolic link`},
		{"symlinked resource.json", func(t *testing.T, d string) {
			must(t, os.Symlink(metaOutside, filepath.Join(d, "resource.json")))
			os.WriteFile(filepath.Join(d, "a.pdf"), []byte("abc"), 0o644)
		}, "resource.json is a symbolic link"},
		{"hard link to a secret", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta("a.pdf")), 0o644)
			if err := os.Link(secretPath, filepath.Join(d, "a.pdf")); err != nil {
				t.Skipf("hard links not possible here: %v", err)
			}
		}, `file "a.pdf" has 2 hard links`},
		{"FIFO", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta("a.pdf")), 0o644)
			must(t, syscall.Mkfifo(filepath.Join(d, "a.pdf"), 0o644))
		}, `file "a.pdf" is a named pipe`},
		{"FIFO as resource.json", func(t *testing.T, d string) {
			must(t, syscall.Mkfifo(filepath.Join(d, "resource.json"), 0o644))
		}, "resource.json is a named pipe"},
		{"socket", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta("s.pdf")), 0o644)
			// A unix socket path is limited to ~100 bytes: bind from the folder.
			wd, _ := os.Getwd()
			must(t, os.Chdir(d))
			l, err := net.Listen("unix", "s.pdf")
			os.Chdir(wd)
			if err != nil {
				t.Skipf("unix socket: %v", err)
			}
			t.Cleanup(func() { l.Close() })
		}, `file "s.pdf" is a socket`},
		{"device", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta("a.pdf")), 0o644)
			if err := syscall.Mknod(filepath.Join(d, "a.pdf"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
				t.Skipf("mknod needs privileges: %v", err)
			}
		}, `file "a.pdf" is a device`},
		{"folder named as a file", func(t *testing.T, d string) {
			os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta("a.pdf")), 0o644)
			os.Mkdir(filepath.Join(d, "a.pdf"), 0o755)
		}, `file "a.pdf" is a folder`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), "k")
			os.MkdirAll(d, 0o755)
			tc.setup(t, d)
			for _, imp := range importers {
				res := importWithinBy(t, imp.fn, n.Service, d)
				if res.Outcome != kit.Refused || res.Err == nil || !strings.Contains(res.Err.Error(), tc.want) {
					t.Fatalf("%s: got %s %v, want refused with %q", imp.name, res.Outcome, res.Err, tc.want)
				}
				if _, err := n.Service.Get(context.Background(), "k"); err == nil {
					t.Fatalf("%s: refused kit is visible", imp.name)
				}
			}
		})
	}

	// A symlinked kit folder below the import root is listed and refused,
	// not followed (the root itself is the operator's choice).
	root := t.TempDir()
	must(t, os.Symlink(realKit, filepath.Join(root, "k")))
	dirs, err := kit.Folders(root)
	if err != nil || len(dirs) != 1 {
		t.Fatalf("folders: %v %v", dirs, err)
	}
	for _, imp := range importers {
		if res := importWithinBy(t, imp.fn, n.Service, dirs[0]); res.Outcome != kit.Refused || !strings.Contains(res.Err.Error(), "kit folder is a symbolic link") {
			t.Fatalf("%s: symlinked kit folder: %s %v", imp.name, res.Outcome, res.Err)
		}
	}
	link := filepath.Join(t.TempDir(), "lien")
	must(t, os.Symlink(realKit, link))
	if dirs, err := kit.Folders(link); err != nil || len(dirs) != 1 || dirs[0] != realKit {
		t.Fatalf("a root given as a link is the operator's choice, resolved once: %v %v", dirs, err)
	}

	sum := sha256.Sum256([]byte(secret))
	n.Blobs.Walk(context.Background(), func(b node.Blob) error {
		if b.SHA256 == hex.EncodeToString(sum[:]) {
			t.Error("the secret's bytes reached the blob store")
		}
		return nil
	})
}

// TestImportAppliesTheFileNameRule: a kit's file names go through the same
// rule as every other route.
func TestImportAppliesTheFileNameRule(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"../../evil.pdf"}, "must not contain / or"},
		{[]string{"CON.pdf"}, "Windows reserves"},
		{[]string{"licence.txt"}, "LICENCE.txt is reserved"},
		{[]string{"a\u202Efdp.exe"}, "invisible formatting"},
		{[]string{"Guide.pdf", "guide.pdf"}, "differ only by case"},
	} {
		d := filepath.Join(t.TempDir(), "k")
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "resource.json"), []byte(kitMeta(tc.names...)), 0o644)
		for _, nm := range tc.names {
			os.WriteFile(filepath.Join(d, filepath.Base(nm)), []byte("abc"), 0o644)
		}
		for _, imp := range importers {
			res := imp.fn(context.Background(), n.Service, d)
			if res.Outcome != kit.Refused || !strings.Contains(res.Err.Error(), tc.want) {
				t.Errorf("%s: %q: got %s %v, want refused with %q", imp.name, tc.names, res.Outcome, res.Err, tc.want)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzImport builds a kit folder from fuzz input (resource.json bytes, one
// file name, its bytes and what kind of entry it is) next to a secret, and
// imports it: import either refuses cleanly (nothing visible, nothing
// stored) or imports exactly the kit's bytes; it never panics, never blocks
// and never reads the secret.
func FuzzImport(f *testing.F) {
	f.Add(kitMeta("a.pdf"), "a.pdf", []byte("abc"), uint8(0))
	f.Add(kitMeta("a.pdf"), "a.pdf", []byte("abc"), uint8(1))
	f.Add(kitMeta("a.pdf"), "a.pdf", []byte("abc"), uint8(2))
	f.Add(kitMeta("a.pdf"), "a.pdf", []byte("abc"), uint8(3))
	f.Add(kitMeta("a.pdf"), "a.pdf", []byte("abc"), uint8(4))
	f.Add(kitMeta("a.pdf"), "a.pdf", []byte("abc"), uint8(5))
	f.Add(kitMeta("../secret/session.key"), "x", []byte(""), uint8(0))
	f.Add(`{"id":"k","title":"T","kind":"tutorial","license":"CC0-1.0","files":[{"name":"a.pdf","media_type":"application/pdf","size":3,"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}]}`, "a.pdf", []byte("abc"), uint8(0))
	n := testnode.Start(f, testnode.Options{})
	base := f.TempDir()
	secretPath := filepath.Join(base, "secret", "session.key")
	os.MkdirAll(filepath.Dir(secretPath), 0o700)
	os.WriteFile(secretPath, []byte(secret), 0o600)
	os.WriteFile(filepath.Join(base, "secret", "meta.json"), []byte(kitMeta("a.pdf")), 0o600)
	secretSum := sha256.Sum256([]byte(secret))
	secretDigest := hex.EncodeToString(secretSum[:])
	ctx := context.Background()
	i := 0
	f.Fuzz(func(t *testing.T, meta, name string, body []byte, kind uint8) {
		i++
		d := filepath.Join(base, fmt.Sprintf("run-%d", i), "k")
		must(t, os.MkdirAll(d, 0o755))
		defer os.RemoveAll(filepath.Dir(d))
		if kind == 5 {
			must(t, os.Symlink(filepath.Join(base, "secret", "meta.json"), filepath.Join(d, "resource.json")))
		} else {
			must(t, os.WriteFile(filepath.Join(d, "resource.json"), []byte(meta), 0o644))
		}
		if name != "" && !strings.ContainsAny(name, "/\x00") && name != "." && name != ".." && len(name) < 200 && name != "resource.json" {
			p := filepath.Join(d, name)
			switch kind % 5 {
			case 0:
				os.WriteFile(p, body, 0o644)
			case 1:
				os.Symlink(secretPath, p)
			case 2:
				os.Symlink("../../secret/session.key", p)
			case 3:
				os.Link(secretPath, p)
			case 4:
				syscall.Mkfifo(p, 0o644)
			}
		}
		before, _ := n.Service.Get(ctx, "k")
		res := importWithin(t, n.Service, d)
		switch res.Outcome {
		case kit.Refused:
			if res.Err == nil {
				t.Fatal("refused without a reason")
			}
			after, err := n.Service.Get(ctx, "k")
			if (err == nil) != (before.ID != "") || !after.Updated.Equal(before.Updated) {
				t.Fatalf("a refused import changed the stored resource: %v", err)
			}
		case kit.Imported, kit.Updated, kit.Unchanged:
			r, err := n.Service.Get(ctx, res.ID)
			if err != nil {
				t.Fatalf("%s but not readable: %v", res.Outcome, err)
			}
			for _, file := range r.Files {
				want, err := os.ReadFile(filepath.Join(d, file.Name))
				if err != nil {
					t.Fatalf("stored file %q is not in the kit: %v", file.Name, err)
				}
				sum := sha256.Sum256(want)
				if file.SHA256 != hex.EncodeToString(sum[:]) {
					t.Fatalf("stored file %q differs from the kit's bytes", file.Name)
				}
			}
			n.Service.Delete(ctx, res.ID)
		default:
			t.Fatalf("outcome %q", res.Outcome)
		}
		var leaked error
		n.Blobs.Walk(ctx, func(b node.Blob) error {
			if b.SHA256 == secretDigest {
				leaked = errors.New("the secret's bytes reached the blob store")
			}
			return nil
		})
		if leaked != nil {
			t.Fatal(leaked)
		}
	})
}
