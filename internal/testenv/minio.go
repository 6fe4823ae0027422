// Package testenv starts the real external services that tests run against,
// so contract tests exercise the same servers production uses instead of
// fakes that agree with our own assumptions.
package testenv

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// MinIOModule is the server version the tests are written against; `make
// test-deps` installs it.
const MinIOModule = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"

const (
	minioReadyTimeout = 60 * time.Second
	minioStopTimeout  = 10 * time.Second
	logTailBytes      = 4 << 10
)

// MinIO is a MinIO server owned by one test, listening on loopback.
type MinIO struct {
	Endpoint  string // host:port of the S3 API, plain HTTP
	AccessKey string
	SecretKey string
	DataDir   string

	tb      testing.TB
	bin     string
	console string
	logPath string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
}

// StartMinIO starts a fresh server with an empty data directory; cleanup
// kills it and removes its data. It fails the test (never skips) when the
// binary is missing, so a CI without MinIO cannot pass by testing nothing.
func StartMinIO(tb testing.TB) *MinIO {
	tb.Helper()
	bin, err := findMinIO()
	if err != nil {
		tb.Fatalf("MinIO is not installed: run `make test-deps` (go install %s): %v", MinIOModule, err)
	}
	tmp := tb.TempDir()
	m := &MinIO{
		AccessKey: "communs-test",
		SecretKey: "communs-test-secret",
		DataDir:   filepath.Join(tmp, "data"),
		tb:        tb,
		bin:       bin,
		logPath:   filepath.Join(tmp, "minio.log"),
	}
	// Registered after TempDir so it runs first: the directory can only be
	// removed once the server stopped writing to it.
	tb.Cleanup(func() {
		m.Stop()
		if tb.Failed() {
			tb.Logf("MinIO log (%s), tail:\n%s", m.logPath, m.logTail())
		}
	})
	// A free port found by listening can be taken again before MinIO binds
	// it; trying fresh ports a few times makes that race harmless.
	for attempt := 1; ; attempt++ {
		m.Endpoint, m.console = FreeAddr(tb), FreeAddr(tb)
		err = m.start()
		if err == nil {
			return m
		}
		if attempt == 3 || !errors.Is(err, errExited) {
			tb.Fatalf("start MinIO: %v\nlog tail:\n%s", err, m.logTail())
		}
	}
}

// findMinIO looks where `go install` puts binaries, after an explicit
// override and PATH.
func findMinIO() (string, error) {
	if p := os.Getenv("COMMUNS_MINIO_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("COMMUNS_MINIO_BIN: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	var candidates []string
	if gobin := os.Getenv("GOBIN"); gobin != "" {
		candidates = append(candidates, filepath.Join(gobin, "minio"))
	}
	for _, gp := range filepath.SplitList(os.Getenv("GOPATH")) {
		if gp != "" {
			candidates = append(candidates, filepath.Join(gp, "bin", "minio"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, "go", "bin", "minio"))
	}
	for _, p := range candidates {
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("not in $COMMUNS_MINIO_BIN, PATH, or %s", strings.Join(candidates, ", "))
}

var errExited = errors.New("minio exited")

// Start restarts a stopped server on the same port and data directory, so a
// client created before Stop can be reused and finds its objects again.
func (m *MinIO) Start() {
	m.tb.Helper()
	if err := m.start(); err != nil {
		m.tb.Fatalf("restart MinIO: %v\nlog tail:\n%s", err, m.logTail())
	}
}

func (m *MinIO) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return nil
	}
	if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s: minio server %s --address %s\n", time.Now().Format(time.RFC3339), m.DataDir, m.Endpoint)
	cmd := exec.Command(m.bin, "server", m.DataDir, "--address", m.Endpoint, "--console-address", m.console)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+m.AccessKey,
		"MINIO_ROOT_PASSWORD="+m.SecretKey,
		"MINIO_BROWSER=off",
		// CI mode caps MinIO's buffer pool at 256 MiB instead of half the RAM.
		"MINIO_CI_CD=1",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("run %s: %w", m.bin, err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	m.cmd, m.exited, m.log = cmd, exited, logf

	if err := waitReady(m.Endpoint, exited); err != nil {
		m.stopLocked()
		return err
	}
	return nil
}

// waitReady waits for live (the process serves HTTP) and then ready (the
// object layer is up: before that, S3 calls fail with "Server not
// initialized yet").
func waitReady(addr string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(minioReadyTimeout)
	for _, probe := range []string{"live", "ready"} {
		url := "http://" + addr + "/minio/health/" + probe
		for {
			select {
			case <-exited:
				return fmt.Errorf("%w before it was %s on %s", errExited, probe, addr)
			default:
			}
			if resp, err := client.Get(url); err == nil {
				resp.Body.Close()
				// Both probes answer 200 while the object layer is still
				// loading, flagging it only in this header.
				if resp.StatusCode == http.StatusOK && resp.Header.Get("X-Minio-Server-Status") != "offline" {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("minio not %s on %s after %s", probe, addr, minioReadyTimeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Stop shuts the server down (gracefully, then by force), keeping its data.
func (m *MinIO) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked()
}

func (m *MinIO) stopLocked() {
	if m.cmd == nil {
		return
	}
	signalGroup(m.cmd, false)
	select {
	case <-m.exited:
	case <-time.After(minioStopTimeout):
		signalGroup(m.cmd, true)
		<-m.exited
	}
	m.log.Close()
	m.cmd, m.exited, m.log = nil, nil, nil
}

func (m *MinIO) logTail() string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// Bucket returns a bucket name no other test uses, derived from the test's
// name to make leftovers easy to trace. It does not create the bucket.
func (m *MinIO) Bucket(tb testing.TB) string {
	var sb strings.Builder
	dash := false
	for _, c := range strings.ToLower(tb.Name()) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			sb.WriteRune(c)
			dash = false
		} else if !dash && sb.Len() > 0 {
			sb.WriteByte('-')
			dash = true
		}
		if sb.Len() >= 40 {
			break
		}
	}
	name := strings.TrimSuffix(sb.String(), "-")
	if name == "" {
		name = "test"
	}
	var r [4]byte
	rand.Read(r[:])
	return name + "-" + hex.EncodeToString(r[:])
}
