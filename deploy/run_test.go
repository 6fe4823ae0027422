package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/communs-numerique/communs/internal/testenv"
)

// ---------------------------------------------------------------------------
// running the binary

type runningNode struct {
	cmd  *exec.Cmd
	logs *testenv.LogBuffer
	base string
	done chan struct{}
	err  error
}

// envList turns env into a process environment with nothing inherited but
// PATH and HOME: the node sees what the deployment gives it, not what the
// test runner happens to export.
func envList(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func startNode(t testing.TB, dir string, env map[string]string, args ...string) *runningNode {
	t.Helper()
	n := &runningNode{logs: &testenv.LogBuffer{}, base: "http://" + env["COMMUNS_LISTEN"], done: make(chan struct{})}
	n.cmd = exec.Command(communsBinary(t), args...)
	n.cmd.Env = envList(env)
	n.cmd.Dir = dir
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("node logs:\n%s", n.logs)
		}
	})
	return n
}

// waitOK polls url until it answers 200.
func (n *runningNode) waitOK(t testing.TB, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			t.Fatalf("node exited: %v", n.err)
		default:
		}
		resp, err := http.Get(n.base + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("node did not answer 200 on %s%s", n.base, path)
}

func (n *runningNode) get(t testing.TB, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(n.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// stop sends SIGTERM, as docker stop and systemctl stop do, and wants a clean
// exit within grace.
func (n *runningNode) stop(t testing.TB, grace time.Duration) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.done:
		if n.err != nil {
			t.Errorf("node exited with %v after SIGTERM", n.err)
		}
	case <-time.After(grace):
		t.Errorf("node still running %s after SIGTERM", grace)
	}
}

// substitute replaces env[k] and logs it, so that a reader of -v output sees
// exactly what differs from the deployment.
func substitute(t testing.TB, env map[string]string, k, v string) {
	t.Helper()
	t.Logf("%s: %q -> %q", k, env[k], v)
	env[k] = v
}

// TestComposeEnvRuns starts the binary with the communs container's
// environment. Substituted, and only these: the data folder, the listen
// address (a free loopback port), the MinIO endpoint and credentials (a real
// MinIO from testenv, which chooses its own root credentials), and the
// Meilisearch URL (a loopback port where nothing listens: Meilisearch cannot
// run here, and the node must start without it).
func TestComposeEnvRuns(t *testing.T) {
	m := testenv.StartMinIO(t)
	env := composeNodeEnv(t)
	data := t.TempDir()
	substitute(t, env, "COMMUNS_DATA", data)
	substitute(t, env, "COMMUNS_LISTEN", testenv.FreeAddr(t))
	substitute(t, env, "COMMUNS_S3_ENDPOINT", m.Endpoint)
	substitute(t, env, "COMMUNS_S3_ACCESS_KEY", m.AccessKey)
	substitute(t, env, "COMMUNS_S3_SECRET_KEY", m.SecretKey)
	substitute(t, env, "COMMUNS_MEILI_URL", "http://"+testenv.FreeAddr(t))

	d := loadDockerfile(t)
	args := jsonArray(t, d.runtime.one(t, "CMD")) // ENTRYPOINT is the binary
	n := startNode(t, data, env, args...)
	n.waitOK(t, "/api/v1/licenses")

	if code, body := n.get(t, "/api/v1/search?q=atelier"); code != http.StatusServiceUnavailable {
		t.Errorf("search with Meilisearch absent: want 503, got %d %s", code, body)
	}
	if code, _ := n.get(t, "/api/v1/resources"); code != http.StatusOK {
		t.Errorf("browsing with Meilisearch absent: %d", code)
	}
	// The container's health check must not flap while Meilisearch is away.
	if code, body := n.get(t, healthPath); code != http.StatusOK {
		t.Errorf("GET %s with Meilisearch absent: %d %s", healthPath, code, body)
	}

	// COMMUNS_LOG_FORMAT=json: each log line is a JSON object, and the start
	// line names the engines the compose file chose.
	var started map[string]any
	for _, line := range strings.Split(strings.TrimSpace(n.logs.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "node started" {
			started = rec
		}
	}
	if started == nil || started["storage"] != "s3" || started["search"] != "meilisearch" || started["public_url"] != env["COMMUNS_PUBLIC_URL"] {
		t.Errorf("no JSON 'node started' line with storage s3, search meilisearch and the public URL: %v", started)
	}

	// The S3 settings work: a file uploaded through the API lands in the
	// bucket, addressed in path style over plain HTTP.
	token := addUser(t, env, data, "admin", "admin")
	id := publish(t, http.DefaultClient, n.base, token)
	putFile(t, http.DefaultClient, n.base, token, id, "guide.txt", []byte("Bonjour le hub"))

	mc, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	var objects []string
	for o := range mc.ListObjects(context.Background(), env["COMMUNS_S3_BUCKET"], minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatalf("list bucket %s: %v", env["COMMUNS_S3_BUCKET"], o.Err)
		}
		objects = append(objects, o.Key)
	}
	if len(objects) != 1 || !strings.HasPrefix(objects[0], "blobs/") {
		t.Errorf("bucket %s after one upload: %v", env["COMMUNS_S3_BUCKET"], objects)
	}
	if code, body := n.get(t, "/r/"+id+"/files/guide.txt"); code != http.StatusOK || body != "Bonjour le hub" {
		t.Errorf("download back from MinIO: %d %q", code, body)
	}

	// compose stop_grace_period is 45 s; the node must be done well before.
	n.stop(t, 40*time.Second)
}

// addUser runs `communs user add` with the node's environment, as an admin
// would next to the running node (through its admin socket), and returns
// the API token it prints on its last line.
func addUser(t testing.TB, env map[string]string, dir, name, role string) string {
	t.Helper()
	cmd := exec.Command(communsBinary(t), "user", "add", name, "--role", role)
	cmd.Env, cmd.Dir = envList(env), dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("communs user add with the node's environment: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func publish(t testing.TB, c *http.Client, base, token string) string {
	t.Helper()
	body := `{"title":"Créer sa première adresse e-mail","kind":"tutorial","license":"CC-BY-SA-4.0"}`
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/resources", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		ID string `json:"id"`
	}
	if resp.StatusCode/100 != 2 || json.Unmarshal(b, &r) != nil || r.ID == "" {
		t.Fatalf("publish: %d %s", resp.StatusCode, b)
	}
	return r.ID
}

func putFile(t testing.TB, c *http.Client, base, token, id, name string, content []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, base+"/api/v1/resources/"+id+"/files/"+name, bytes.NewReader(content))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("upload %s: %d %s", name, resp.StatusCode, b)
	}
}

// TestHealthcheckTargetIsServed: the URL the image's and the compose file's
// health checks probe answers 200 on a node started with the image's ENV.
func TestHealthcheckTargetIsServed(t *testing.T) {
	env := loadDockerfile(t).runtime.envOf(t)
	data := t.TempDir()
	substitute(t, env, "COMMUNS_DATA", data)
	substitute(t, env, "COMMUNS_LISTEN", testenv.FreeAddr(t))
	n := startNode(t, data, env, jsonArray(t, loadDockerfile(t).runtime.one(t, "CMD"))...)
	n.waitOK(t, "/api/v1/licenses")
	if code, body := n.get(t, healthPath); code != http.StatusOK {
		t.Errorf("GET %s: %d %s", healthPath, code, body)
	}
}
