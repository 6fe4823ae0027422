package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testenv"
)

// TestFirstStepsOnlyOnTerminalWhenEmpty: serve prints the three commands
// to a person's terminal on an empty node, never into a log file or pipe,
// and not once the node has content.
func TestFirstStepsOnlyOnTerminalWhenEmpty(t *testing.T) {
	for _, c := range []struct {
		terminal, empty, want bool
	}{{true, true, true}, {false, true, false}, {true, false, false}, {false, false, false}} {
		var b bytes.Buffer
		printFirstSteps(&b, c.terminal, c.empty)
		got := strings.Contains(b.String(), "communs user add NAME --role editor") &&
			strings.Contains(b.String(), "communs resource import DIR") && strings.Contains(b.String(), "communs peer follow HANDLE")
		if got != c.want || (!c.want && b.Len() != 0) {
			t.Errorf("terminal %v empty %v: printed %q", c.terminal, c.empty, b.String())
		}
	}
	// A test's stdout is a pipe or a file, not a terminal.
	if isTerminal(os.Stdout) && os.Getenv("CI") != "" {
		t.Error("stdout of a CI test taken for a terminal")
	}
	f, _ := os.CreateTemp(t.TempDir(), "log")
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file taken for a terminal")
	}
}

// TestDoctorFreshFolder: doctor on a fresh data folder gives the first
// steps as a NOTE, not as a failure.
func TestDoctorFreshFolder(t *testing.T) {
	env := []string{"COMMUNS_DATA=" + t.TempDir()}
	out, _ := run(t, env, "doctor")
	if !doctorLine(out, "NOTE", "first steps") || !strings.Contains(out, "communs user add NAME --role editor") ||
		!strings.Contains(out, "communs resource import DIR") || !strings.Contains(out, "communs peer follow HANDLE") {
		t.Fatalf("doctor on a fresh folder lacks the first steps:\n%s", out)
	}
	if doctorLine(out, "FAIL", "first steps") || doctorLine(out, "FAIL", "catalog") {
		t.Fatalf("an empty catalog is not a failure:\n%s", out)
	}
}

// TestServeProfileFlags: --logo is served at the actor's icon URL with its
// sniffed type; a --logo that is not an image stops serve with a reason.
func TestServeProfileFlags(t *testing.T) {
	dir := t.TempDir()
	logo := filepath.Join(dir, "logo.bin") // the name says nothing: the bytes do
	var buf bytes.Buffer
	png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 48, 48)))
	os.WriteFile(logo, buf.Bytes(), 0o644)
	bad := filepath.Join(dir, "logo.png")
	os.WriteFile(bad, []byte("<html>not a picture</html>"), 0o644)

	env := []string{"COMMUNS_DATA=" + t.TempDir()}
	out, err := run(t, env, "serve", "--logo", bad, "--listen", testenv.FreeAddr(t))
	if err == nil || !strings.Contains(out, "--logo") || !strings.Contains(out, "PNG, JPEG or WebP") {
		t.Fatalf("serve with a non-image logo: %v\n%s", err, out)
	}

	addr := testenv.FreeAddr(t)
	_, logs := startServe(t, env, "--listen", addr, "--public-url", "http://"+addr, "--dev-federation", "--logo", logo,
		"--website", "https://www.example.fr/", "--region", "Bretagne")
	waitHTTP(t, "http://"+addr+"/healthz", logs)
	req, _ := http.NewRequest("GET", "http://"+addr+"/actor", nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var actor struct {
		Icon, Image  struct{ URL, MediaType string }
		Attachment   []struct{ Name, Value string }
		Discoverable bool
	}
	json.NewDecoder(resp.Body).Decode(&actor)
	resp.Body.Close()
	if actor.Icon.MediaType != "image/png" || !actor.Discoverable || len(actor.Attachment) != 2 {
		t.Fatalf("actor: %+v", actor)
	}
	resp, err = http.Get(actor.Icon.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, buf.Bytes()) {
		t.Fatalf("icon URL answers %s, %d bytes; want the given logo", resp.Header.Get("Content-Type"), len(body))
	}
}
