package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/node"
)

// TestMigrateDiskToMinIO: while the node serves downloads from disk, the
// blobs are copied to a real MinIO; the copy is killed half-way and resumed;
// then the node restarts on MinIO alone and serves every file, checked.
func TestMigrateDiskToMinIO(t *testing.T) {
	m := testenv.StartMinIO(t)
	data, kits := t.TempDir(), t.TempDir()
	rs := corpus.MustLoad(t)[:24]
	if err := corpus.WriteKits(kits, rs, 2<<20); err != nil {
		t.Fatal(err)
	}
	env := []string{"COMMUNS_DATA=" + data}
	if out, err := run(t, env, "resource", "import", kits); err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	srv, logs := startServe(t, env, "--listen", addr, "--public-url", base)
	waitHTTP(t, base+"/healthz", logs)
	files := downloadAll(t, base, rs)

	s3env := append(env, "COMMUNS_S3_ENDPOINT="+m.Endpoint, "COMMUNS_S3_INSECURE=true", "COMMUNS_S3_ACCESS_KEY="+m.AccessKey,
		"COMMUNS_S3_SECRET_KEY="+m.SecretKey, "COMMUNS_S3_BUCKET="+m.Bucket(t), "COMMUNS_S3_PATH_STYLE=path")

	// First run, killed after its first progress line.
	cmd := exec.Command(binary, "storage", "migrate", "--to", "s3")
	cmd.Env = append(os.Environ(), s3env...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first, _ := bufio.NewReader(stdout).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if !strings.Contains(first, "blobs (") {
		t.Fatalf("migrate printed no progress before the kill: %q", first)
	}
	// The node kept serving from disk meanwhile.
	if got := downloadAll(t, base, rs); len(got) != len(files) {
		t.Fatalf("downloads during the migration: %d of %d", len(got), len(files))
	}

	out, err := run(t, s3env, "storage", "migrate", "--to", "s3")
	if err != nil || !strings.Contains(out, "every digest verified") || !strings.Contains(out, "already there") || !strings.Contains(out, "--storage s3") {
		t.Fatalf("resumed migration: %v\n%s", err, out)
	}
	if strings.Contains(out, " 0 already there") {
		t.Fatalf("the resumed run should skip what the first run copied:\n%s", out)
	}

	srv.Process.Kill()
	srv.Wait()
	os.RemoveAll(data + "/blobs") // from now on only MinIO holds the files
	addr2 := testenv.FreeAddr(t)
	base2 := "http://" + addr2
	_, logs = startServe(t, append(s3env, "COMMUNS_STORAGE=s3"), "--listen", addr2, "--public-url", base2)
	waitHTTP(t, base2+"/healthz", logs)
	after := downloadAll(t, base2, rs)
	for url, want := range files {
		got, ok := after[strings.Replace(url, base, base2, 1)]
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("%s served from MinIO differs (%d vs %d bytes)", url, len(got), len(want))
		}
	}
}

// downloadAll fetches every file of the open-licence resources.
func downloadAll(t *testing.T, base string, rs []node.Resource) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, r := range rs {
		for _, f := range r.Files {
			u := base + "/r/" + r.ID + "/files/" + f.Name
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				out[u] = b
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d files downloadable from %s", len(out), base)
	}
	return out
}
