package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
)

// TestImportKilledMidBatch: `communs resource import` is killed (SIGKILL)
// while it imports kits in batches. Every kit it printed as imported is in
// the catalog with all its files, each blob holding the kit's bytes; no
// resource of the catalog lacks a blob (a batch is in or out as a whole);
// and running the import again finishes the job.
func TestImportKilledMidBatch(t *testing.T) {
	const count = 1500
	rs := corpus.Synthetic(corpus.Open(corpus.MustLoad(t)), count, 11)
	kits, data := t.TempDir(), t.TempDir()
	if err := corpus.WriteKits(kits, rs, 4<<10); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "resource", "import", kits)
	cmd.Env = append(os.Environ(), "COMMUNS_DATA="+data)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once a few batches are reported, which is mid-batch: the next
	// batch is being read or committed.
	var reported []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "imported" {
			reported = append(reported, f[1])
			if len(reported) == 250 {
				cmd.Process.Kill()
				break
			}
		}
	}
	cmd.Wait()
	if len(reported) < 250 {
		t.Fatalf("import ended before the kill, %d kits reported", len(reported))
	}

	cat, err := catalog.Open(filepath.Join(data, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewDisk(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	byID := map[string]node.Resource{}
	for _, r := range rs {
		byID[r.ID] = r
	}
	for _, id := range reported {
		r, err := cat.Get(ctx, id)
		if err != nil {
			t.Fatalf("kit %s was reported imported before the kill but is not in the catalog: %v", id, err)
		}
		if len(r.Files) != len(byID[id].Files) {
			t.Fatalf("kit %s: %d files stored, the kit has %d", id, len(r.Files), len(byID[id].Files))
		}
		for _, f := range r.Files {
			want := sha256.New()
			io.Copy(want, corpus.Content(id, f.Name, f.Size))
			if got := blobDigest(t, blobs, f.SHA256); got != hex.EncodeToString(want.Sum(nil)) || got != f.SHA256 {
				t.Fatalf("kit %s file %s: the stored bytes are not the kit's", id, f.Name)
			}
		}
	}
	stored := 0
	for cursor := ""; ; {
		page, next, err := cat.List(ctx, node.ListOptions{After: cursor, Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			stored++
			for _, f := range r.Files {
				if n, err := blobs.Stat(ctx, f.SHA256); err != nil || n != f.Size {
					t.Fatalf("resource %s is in the catalog but its file %s is not stored whole: %d bytes, %v", r.ID, f.Name, n, err)
				}
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	// At most the batches committed between the last line read and the
	// kill are in the catalog without having been reported.
	if stored < len(reported) || stored > len(reported)+300 {
		t.Fatalf("%d resources in the catalog for %d reported", stored, len(reported))
	}
	cat.Close()

	ctx2, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	again := exec.CommandContext(ctx2, binary, "resource", "import", kits)
	again.Env = append(os.Environ(), "COMMUNS_DATA="+data)
	out, err := again.CombinedOutput()
	want := fmt.Sprintf("%d imported, 0 updated, %d unchanged, 0 refused", count-stored, stored)
	if err != nil || !strings.Contains(string(out), want) {
		tail := string(out)
		if len(tail) > 1000 {
			tail = tail[len(tail)-1000:]
		}
		t.Fatalf("import after the kill: %v, want %q\n%s", err, want, tail)
	}
}

func blobDigest(t *testing.T, blobs *blob.Disk, sha string) string {
	t.Helper()
	r, err := blobs.Open(context.Background(), sha)
	if err != nil {
		t.Fatalf("blob %s: %v", sha, err)
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
