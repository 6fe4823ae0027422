package main

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testenv"
)

// slowUpload starts a PUT whose body the test writes by hand, and returns
// the writer and a channel with the final status (0 if the request failed).
func slowUpload(t *testing.T, url, token string) (*io.PipeWriter, chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", url, pr)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/pdf")
	status := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	return pw, status
}

func newEditor(t *testing.T, env []string) string {
	t.Helper()
	out, err := run(t, env, "user", "add", "ed", "--role", "editor")
	if err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// TestSIGTERMDuringUpload: on SIGTERM the node stops accepting, lets the
// upload in flight finish, and exits cleanly; on a second SIGTERM it exits
// at once and the half-sent file is nowhere to be seen after a restart.
func TestSIGTERMDuringUpload(t *testing.T) {
	data := t.TempDir()
	env := []string{"COMMUNS_DATA=" + data}
	token := newEditor(t, env)
	chunk := []byte(strings.Repeat("%PDF-1.7 communs ", 64<<10)) // ~1 MiB

	var logs *testenv.LogBuffer
	// stopping waits until serve has taken the signal, instead of a pause
	// that may be too short on a loaded machine.
	stopping := func() {
		testenv.Eventually(t, 20*time.Second, "serve logs that it is shutting down", func() bool {
			return strings.Contains(logs.String(), "shutting down")
		}, logs)
	}
	start := func() (string, func() error, func(syscall.Signal)) {
		addr := testenv.FreeAddr(t)
		var srv *exec.Cmd
		srv, logs = startServe(t, env, "--listen", addr)
		waitHTTP(t, "http://"+addr+"/healthz", logs)
		return "http://" + addr, srv.Wait, func(s syscall.Signal) { srv.Process.Signal(s) }
	}
	base, wait, signal := start()
	req, _ := http.NewRequest("POST", base+"/api/v1/resources", strings.NewReader(`{"id":"kit","title":"Kit","kind":"workshop-kit","license":"CC-BY-4.0"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v %v", err, resp)
	}

	// One SIGTERM: the upload completes.
	pw, status := slowUpload(t, base+"/api/v1/resources/kit/files/complet.pdf", token)
	pw.Write(chunk)
	// The signal goes once the node is streaming the upload to disk, not
	// while the connection still waits in the kernel's accept queue.
	waitStreaming(t, data)
	signal(syscall.SIGTERM)
	stopping()
	pw.Write(chunk)
	pw.Close()
	if got := <-status; got != http.StatusCreated {
		t.Fatalf("upload in flight during a graceful stop: status %d, want 201", got)
	}
	if err := wait(); err != nil {
		t.Fatalf("serve did not exit cleanly after SIGTERM: %v", err)
	}

	// Two SIGTERMs: the node exits now; the upload leaves nothing.
	base, wait, signal = start()
	pw, status = slowUpload(t, base+"/api/v1/resources/kit/files/moitie.pdf", token)
	pw.Write(chunk)
	waitStreaming(t, data)
	signal(syscall.SIGTERM)
	stopping()
	signal(syscall.SIGTERM)
	wait()
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if got := <-status; got == http.StatusCreated {
		t.Fatal("an upload cut by an immediate exit cannot have succeeded")
	}

	base, _, _ = start()
	resp, err := http.Get(base + "/r/kit/files/complet.pdf")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(append(append([]byte{}, chunk...), chunk...))
	if resp.StatusCode != 200 || hex.EncodeToString(sum[:]) != strings.Trim(resp.Header.Get("ETag"), `"`) || len(body) != 2*len(chunk) {
		t.Fatalf("the upload finished during the graceful stop is not intact: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := http.Get(base + "/r/kit/files/moitie.pdf"); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the cut upload must not be visible: %v", resp)
	}
}

// waitStreaming waits until an upload's temp file exists in the blob store.
func waitStreaming(t *testing.T, data string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if entries, _ := os.ReadDir(filepath.Join(data, "blobs", "tmp")); len(entries) > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("the node never started writing the upload")
}
