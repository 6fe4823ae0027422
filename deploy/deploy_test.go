// Package deploy_test checks the deployment files of deploy/ against the
// binary they run. Docker does not run on the test machines, so nothing here
// builds an image or starts a container; what can be checked is:
//
//   - the Dockerfile's structure, and its exact go build line run here (the
//     binary every other test starts is the one that line produces);
//   - the compose file, parsed as YAML: health checks, pinned images, every
//     ${VAR} documented in .env.example, every COMMUNS_* variable known to
//     `communs serve --help`;
//   - the systemd unit with systemd-analyze (verify, and the security score);
//   - the Caddyfile with `caddy adapt`, and Caddy itself in front of the node
//     (WebFinger under the https public URL, an 8 MiB upload and download);
//   - the binary started with the environment the compose file (against a
//     real MinIO, Meilisearch absent) and the systemd unit give it.
package deploy_test

import (
	"os"
	"os/exec"
	"regexp"
	"testing"
)

// repoRoot is the build context of deploy/Dockerfile; go test runs in deploy/.
const repoRoot = ".."

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// what the binary knows

// knownEnv lists the environment variables `communs serve --help` names.
func knownEnv(t testing.TB) map[string]bool {
	t.Helper()
	out, err := exec.Command(communsBinary(t), "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("communs serve --help: %v\n%s", err, out)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`\[\$(COMMUNS_[A-Z0-9_]+)\]`).FindAllStringSubmatch(string(out), -1) {
		known[m[1]] = true
	}
	if !known["COMMUNS_DATA"] || !known["COMMUNS_LISTEN"] {
		t.Fatalf("serve --help names no COMMUNS_DATA/COMMUNS_LISTEN; its format changed?\n%s", out)
	}
	return known
}
