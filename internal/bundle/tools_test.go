package bundle_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStandardToolsVerify: the offline check docs/BUNDLES.md gives for a
// machine without Communs works: unzip, openssl for the signature, jq and
// sha256sum for the files.
func TestStandardToolsVerify(t *testing.T) {
	for _, tool := range []string{"unzip", "openssl", "jq", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	dir := t.TempDir()
	_, data := build(t, spec(2, []int{3000, 1}, true))
	zipPath := filepath.Join(dir, "collection.zip")
	if err := os.WriteFile(zipPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hub.pem"), []byte(signer(t).PublicKeyPEM()), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := func(script string) (string, error) {
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := sh("unzip -q collection.zip -d collection"); err != nil {
		t.Fatalf("unzip: %v\n%s", err, out)
	}
	check := "cd collection && openssl dgst -sha256 -verify ../hub.pem -signature manifest.json.sig manifest.json && " +
		`jq -r '.files[] | "\(.sha256)  \(.path)"' manifest.json | sha256sum -c --strict`
	out, err := sh(check)
	if err != nil || !strings.Contains(out, "Verified OK") || !strings.Contains(out, "01-seance-1/fichier-1.pdf: OK") {
		t.Fatalf("%v\n%s", err, out)
	}
	// And they see a change.
	if err := os.WriteFile(filepath.Join(dir, "collection", "01-seance-1", "fichier-1.pdf"), []byte("autre"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := sh(check); err == nil || !strings.Contains(out, "01-seance-1/fichier-1.pdf: FAILED") {
		t.Fatalf("a changed file passed: %v\n%s", err, out)
	}
}
