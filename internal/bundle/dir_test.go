package bundle_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/communs-numerique/communs/internal/bundle"
)

// unzipTo extracts a bundle as an archive tool would.
func unzipTo(t *testing.T, data []byte, dir string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		rc, _ := f.Open()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOpenDir: a bundle unzipped on a USB stick verifies, with the files
// systems add left aside and names a disk changed the case of; a change,
// an extra file, a link or a deeper folder do not.
func TestOpenDir(t *testing.T) {
	k, _ := keys(t)
	_, data := build(t, spec(2, []int{3000, 5}, true))
	for _, tc := range []struct {
		name     string
		edit     func(dir string)
		ok       bool
		path, en string
	}{
		{"as unzipped", func(string) {}, true, "", ""},
		{"with a Mac's and Windows' files", func(dir string) {
			os.WriteFile(filepath.Join(dir, ".DS_Store"), []byte("x"), 0o644)
			os.WriteFile(filepath.Join(dir, "01-seance-1", "._fichier-1.pdf"), []byte("x"), 0o644)
			os.WriteFile(filepath.Join(dir, "02-seance-2", "Thumbs.db"), []byte("x"), 0o644)
			os.MkdirAll(filepath.Join(dir, "__MACOSX", "01-seance-1"), 0o755)
			os.WriteFile(filepath.Join(dir, "__MACOSX", "01-seance-1", "x"), []byte("x"), 0o644)
		}, true, "", ""},
		{"a name's case changed by the disk", func(dir string) {
			os.Rename(filepath.Join(dir, "01-seance-1", "fichier-1.pdf"), filepath.Join(dir, "01-seance-1", "FICHIER-1.PDF"))
		}, true, "", ""},
		{"a byte changed", func(dir string) {
			p := filepath.Join(dir, "02-seance-2", "fichier-1.pdf")
			b, _ := os.ReadFile(p)
			b[7] ^= 1
			os.WriteFile(p, b, 0o644)
		}, false, "02-seance-2/fichier-1.pdf", "content changed"},
		{"a file added", func(dir string) {
			os.WriteFile(filepath.Join(dir, "01-seance-1", "lisez-moi.exe"), []byte("MZ"), 0o644)
		}, false, "01-seance-1/lisez-moi.exe", "not in the manifest"},
		{"a file removed", func(dir string) {
			os.Remove(filepath.Join(dir, "01-seance-1", "fichier-2.pdf"))
		}, false, "01-seance-1/fichier-2.pdf", "missing"},
		{"a link to a secret", func(dir string) {
			p := filepath.Join(dir, "01-seance-1", "fichier-2.pdf")
			os.Remove(p)
			os.Symlink("/etc/passwd", p)
		}, false, "01-seance-1/fichier-2.pdf", "not a regular file"},
		{"a deeper folder", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "01-seance-1", "sous"), 0o755)
		}, false, "01-seance-1/sous", "more than one folder"},
		{"a FIFO", func(dir string) {
			if err := mkfifo(filepath.Join(dir, "01-seance-1", "tube")); err != nil {
				t.Skip(err)
			}
		}, false, "01-seance-1/tube", "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			unzipTo(t, data, dir)
			tc.edit(dir)
			a, err := bundle.OpenDir(dir)
			var rep bundle.Report
			if err == nil {
				defer a.Close()
				rep = a.Verify(context.Background(), &k.PublicKey)
			}
			if tc.ok {
				if err != nil || !rep.OK() || rep.Files != 5 {
					t.Fatalf("err %v, report %+v", err, rep)
				}
				return
			}
			var problems []bundle.Problem
			if p, ok := err.(*bundle.Problem); ok {
				problems = append(problems, *p)
			} else if err != nil {
				t.Fatalf("err %v (%T)", err, err)
			}
			problems = append(problems, rep.Problems...)
			for _, p := range problems {
				if p.Path == tc.path && strings.Contains(p.EN, tc.en) {
					return
				}
			}
			t.Fatalf("problems %+v, want one about %s saying %q", problems, tc.path, tc.en)
		})
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o644) }
