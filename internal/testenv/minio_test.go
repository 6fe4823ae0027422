package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMinIOStopStart(t *testing.T) {
	m := StartMinIO(t)
	if m.AccessKey == "" || len(m.SecretKey) < 8 {
		t.Fatalf("credentials MinIO would refuse: %q / %q", m.AccessKey, m.SecretKey)
	}
	if !strings.HasPrefix(m.Endpoint, "127.0.0.1:") {
		t.Fatalf("Endpoint %q is not on loopback", m.Endpoint)
	}
	live := func() bool {
		resp, err := http.Get("http://" + m.Endpoint + "/minio/health/live")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if !live() {
		t.Fatal("not live after StartMinIO")
	}
	// MinIO keeps its format on disk; a restart must find the same one.
	format := filepath.Join(m.DataDir, ".minio.sys", "format.json")
	before, err := os.ReadFile(format)
	if err != nil {
		t.Fatalf("no data written to DataDir: %v", err)
	}

	m.Stop()
	if c, err := net.DialTimeout("tcp", m.Endpoint, time.Second); err == nil {
		c.Close()
		t.Fatal("port still accepts connections after Stop")
	}
	m.Stop() // stopping twice is harmless

	m.Start()
	if !live() {
		t.Fatal("not live after Start")
	}
	after, err := os.ReadFile(format)
	if err != nil || string(after) != string(before) {
		t.Fatalf("restart did not reuse the data directory: %v", err)
	}
}

func TestBucketNames(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	m := &MinIO{}
	seen := map[string]bool{}
	for _, name := range []string{"Simple", "With/Sub_Test#01", strings.Repeat("Long", 40), "---", "É"} {
		t.Run(name, func(t *testing.T) {
			for range 2 {
				b := m.Bucket(t)
				if !valid.MatchString(b) || strings.Contains(b, "--") {
					t.Errorf("Bucket() = %q, not a valid S3 bucket name", b)
				}
				if seen[b] {
					t.Errorf("Bucket() returned %q twice", b)
				}
				seen[b] = true
			}
		})
	}
}

// fatalTB records how StartMinIO gives up, ending the goroutine like the
// real Fatalf/Skip would.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = "fatal: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Skip(args ...any) { f.msg = "skip: " + fmt.Sprint(args...); runtime.Goexit() }

func (f *fatalTB) Skipf(format string, args ...any) {
	f.msg = "skip: " + fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) SkipNow() { f.msg = "skip"; runtime.Goexit() }

func TestMissingBinaryFailsNotSkips(t *testing.T) {
	t.Setenv("COMMUNS_MINIO_BIN", filepath.Join(t.TempDir(), "no-minio-here"))
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		StartMinIO(f)
	}()
	<-done
	if !strings.HasPrefix(f.msg, "fatal: MinIO is not installed: run `make test-deps` (go install "+MinIOModule+")") {
		t.Fatalf("StartMinIO without a binary: %q", f.msg)
	}
}
