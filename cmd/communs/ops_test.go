package main

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
)

// blobFiles lists the blob files of a disk store.
func blobFiles(t *testing.T, data string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(data, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && len(d.Name()) == 64 {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func doctorLine(out, level, name string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, level) && strings.Contains(l, name) {
			return true
		}
	}
	return false
}

// TestDoctor: a healthy node passes; a blob deleted or corrupted behind
// the node's back, a public URL that does not reach it, and a stopped
// MinIO each give a FAIL line with what to do, and a non-zero exit.
func TestDoctor(t *testing.T) {
	data, kits := t.TempDir(), t.TempDir()
	if err := corpus.WriteKits(kits, corpus.MustLoad(t)[:4], 4<<10); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	env := []string{"COMMUNS_DATA=" + data}
	if out, err := run(t, env, "resource", "import", kits); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	srv, logs := startServe(t, env, "--listen", addr, "--public-url", "http://"+addr, "--dev-federation")
	waitHTTP(t, "http://"+addr+"/healthz", logs)
	out, err := run(t, env, "doctor", "--deep")
	if err != nil || strings.Contains(out, "FAIL") || !doctorLine(out, "OK", "public URL") || !doctorLine(out, "OK", "storage") {
		t.Fatalf("doctor on a healthy node: %v\n%s", err, out)
	}

	blobs := blobFiles(t, data)
	if len(blobs) < 2 {
		t.Fatalf("want at least 2 blobs, got %d", len(blobs))
	}
	if err := os.Remove(blobs[0]); err != nil {
		t.Fatal(err)
	}
	data1, _ := os.ReadFile(blobs[1])
	data1[len(data1)/2] ^= 0xff // same size, other bytes
	os.WriteFile(blobs[1], data1, 0o600)
	out, err = run(t, env, "doctor")
	if err == nil || !doctorLine(out, "FAIL", "catalog") || !strings.Contains(out, "missing") || !strings.Contains(out, "→") {
		t.Fatalf("doctor should FAIL on the deleted blob and say what to do: %v\n%s", err, out)
	}
	if strings.Contains(out, "corrupted") {
		t.Fatalf("without --deep the corruption (same size) cannot be seen:\n%s", out)
	}
	out, _ = run(t, env, "doctor", "--deep")
	if !strings.Contains(out, "corrupted") {
		t.Fatalf("doctor --deep should find the corrupted blob:\n%s", out)
	}
	srv.Process.Kill()
	srv.Wait()

	// A public URL that does not reach this node.
	addr2 := testenv.FreeAddr(t)
	_, logs = startServe(t, env, "--listen", addr2, "--public-url", "http://"+testenv.FreeAddr(t), "--dev-federation")
	waitHTTP(t, "http://"+addr2+"/healthz", logs)
	out, err = run(t, env, "doctor")
	if err == nil || !doctorLine(out, "FAIL", "public URL") {
		t.Fatalf("doctor should FAIL on a wrong public URL: %v\n%s", err, out)
	}
}

func TestDoctorFindsMinIOStopped(t *testing.T) {
	m := testenv.StartMinIO(t)
	data := t.TempDir()
	env := []string{"COMMUNS_DATA=" + data, "COMMUNS_STORAGE=s3", "COMMUNS_S3_ENDPOINT=" + m.Endpoint, "COMMUNS_S3_INSECURE=true",
		"COMMUNS_S3_ACCESS_KEY=" + m.AccessKey, "COMMUNS_S3_SECRET_KEY=" + m.SecretKey, "COMMUNS_S3_BUCKET=" + m.Bucket(t), "COMMUNS_S3_PATH_STYLE=path"}
	addr := testenv.FreeAddr(t)
	_, logs := startServe(t, env, "--listen", addr)
	waitHTTP(t, "http://"+addr+"/healthz", logs)
	if out, err := run(t, env, "doctor"); err != nil || !doctorLine(out, "OK", "storage") {
		t.Fatalf("doctor with MinIO up: %v\n%s", err, out)
	}
	m.Stop()
	out, err := run(t, env, "doctor")
	if err == nil || !doctorLine(out, "FAIL", "storage") || !strings.Contains(out, "MinIO") {
		t.Fatalf("doctor should FAIL with MinIO stopped: %v\n%s", err, out)
	}
}

// TestBackupWhileUploadingThenRestore: a backup taken over the admin socket
// while uploads run restores into a new folder as a consistent node: every
// file record has its blob with the right digest, and the users, peers and
// keys are those of the original.
func TestBackupWhileUploadingThenRestore(t *testing.T) {
	data, restored := t.TempDir(), filepath.Join(t.TempDir(), "restored")
	env := []string{"COMMUNS_DATA=" + data}
	out, err := run(t, env, "user", "add", "marie", "--role", "editor")
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	token := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	_, logs := startServe(t, env, "--listen", addr, "--public-url", base, "--dev-federation", "--hub", "hub-a")
	waitHTTP(t, base+"/healthz", logs)

	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		defer func() { done <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("fiche-%d", n)
			req, _ := http.NewRequest("POST", base+"/api/v1/resources", strings.NewReader(`{"id":"`+id+`","title":"Fiche `+id+`","kind":"practical-sheet","license":"CC0-1.0"}`))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			body := strings.Repeat(id, 20000)
			req, _ = http.NewRequest("PUT", base+"/api/v1/resources/"+id+"/files/fiche.pdf", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+token)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			n++
		}
	}()
	// The backup starts once uploads are under way (the first one is
	// served), not after a guessed pause.
	testenv.Eventually(t, 20*time.Second, "the first upload served", func() bool {
		resp, err := http.Get(base + "/r/fiche-0/files/fiche.pdf")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, logs)
	file := filepath.Join(t.TempDir(), "hub.tar")
	if out, err := run(t, env, "backup", file, "--with-files"); err != nil {
		t.Fatalf("backup while uploading: %v\n%s", err, out)
	}
	close(stop)
	if n := <-done; n < 3 {
		t.Fatalf("only %d uploads ran; the backup did not overlap them", n)
	}

	renv := []string{"COMMUNS_DATA=" + restored}
	if out, err := run(t, renv, "restore", file); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := run(t, renv, "restore", file); err == nil || !strings.Contains(out, "empty data folder") {
		t.Fatalf("a second restore onto the same folder must be refused: %v\n%s", err, out)
	}
	out, err = run(t, renv, "doctor", "--deep")
	if !doctorLine(out, "OK", "catalog") {
		t.Fatalf("the restored catalog is not consistent with its blobs: %v\n%s", err, out)
	}
	out, _ = run(t, renv, "user", "list")
	if !strings.Contains(out, "marie") {
		t.Fatalf("users not restored:\n%s", out)
	}
	for _, k := range []string{"federation/actor.pem", "session.key"} {
		a, _ := os.ReadFile(filepath.Join(data, k))
		b, err := os.ReadFile(filepath.Join(restored, k))
		if err != nil || len(a) == 0 || string(a) != string(b) {
			t.Fatalf("key %s not restored identically: %v", k, err)
		}
	}
}
