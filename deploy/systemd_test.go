package deploy_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testenv"
)

// ---------------------------------------------------------------------------
// systemd

type unitFile struct {
	text    string
	service map[string][]string // [Service] key -> values in order
}

func loadUnit(t testing.TB) unitFile {
	t.Helper()
	u := unitFile{text: readFile(t, "systemd/communs.service"), service: map[string][]string{}}
	section := ""
	for _, line := range strings.Split(u.text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("communs.service: %q", line)
		}
		if section == "[Service]" {
			u.service[k] = append(u.service[k], v)
		}
	}
	return u
}

func (u unitFile) get(t testing.TB, k string) string {
	t.Helper()
	v := u.service[k]
	if len(v) != 1 {
		t.Fatalf("communs.service: want one %s=, got %v", k, v)
	}
	return v[0]
}

func TestSystemdUnitDirectives(t *testing.T) {
	u := loadUnit(t)
	for k, want := range map[string]string{
		"User": "communs", "Group": "communs", "ExecStart": "/usr/local/bin/communs serve",
		"EnvironmentFile": "-/etc/communs/communs.env", "Environment": "COMMUNS_DATA=/var/lib/communs",
		"StateDirectory": "communs", "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/communs",
		"NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes", "ProtectKernelTunables": "yes",
		"ProtectControlGroups": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "",
		"Restart": "on-failure", "RestartSec": "5s", "TimeoutStopSec": "45s", "KillSignal": "SIGTERM",
	} {
		if got := u.get(t, k); got != want {
			t.Errorf("communs.service: %s=%s, want %s", k, got, want)
		}
	}
	if !slices.Contains(u.service["SystemCallFilter"], "@system-service") {
		t.Errorf("communs.service: SystemCallFilter=@system-service missing: %v", u.service["SystemCallFilter"])
	}
	// The data folder is the state directory, and writable under strict.
	data := strings.TrimPrefix(u.get(t, "Environment"), "COMMUNS_DATA=")
	if data != "/var/lib/"+u.get(t, "StateDirectory") || data != u.get(t, "ReadWritePaths") {
		t.Errorf("COMMUNS_DATA %s, StateDirectory and ReadWritePaths disagree", data)
	}
	// More than the node's 30 s drain on SIGTERM.
	if d, err := time.ParseDuration(u.get(t, "TimeoutStopSec")); err != nil || d <= 30*time.Second {
		t.Errorf("TimeoutStopSec=%s must exceed the 30 s drain", u.get(t, "TimeoutStopSec"))
	}

	known := knownEnv(t)
	entries, commented := parseEnvFile(t, "systemd/communs.env.example")
	for _, e := range entries {
		if !known[e.Key] {
			t.Errorf("communs.env.example: %s is unknown to the binary", e.Key)
		}
	}
	for _, k := range commented {
		if !known[k] {
			t.Errorf("communs.env.example: #%s (commented out) is unknown to the binary", k)
		}
	}
}

// unitForTest is the unit with ExecStart's binary replaced by the freshly
// built one (the only change), written to a temporary folder.
func unitForTest(t testing.TB) string {
	t.Helper()
	u := loadUnit(t)
	exe, _, _ := strings.Cut(u.get(t, "ExecStart"), " ")
	text := strings.Replace(u.text, "ExecStart="+exe, "ExecStart="+communsBinary(t), 1)
	path := filepath.Join(t.TempDir(), "communs.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// userMissingRe matches what systemd-analyze may say about User=communs
// absent from this machine, the one finding that belongs to the machine and
// not to the unit. systemd 252 (Debian 12) prints nothing of the sort: the
// filter is kept narrow so that it can hide nothing else.
var userMissingRe = regexp.MustCompile(`(?i)(failed to resolve user|user .?communs.? (does not exist|not found)|no such user)`)

func systemdAnalyze(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian package systemd; `make test-deps` installs it)")
	}
	return p
}

// TestSystemdVerify: `systemd-analyze verify` accepts the unit. Its exit
// code alone is not enough (an unknown key is only a warning), so every line
// it prints is a failure, but for the user-missing ones above.
func TestSystemdVerify(t *testing.T) {
	sa := systemdAnalyze(t)
	path := unitForTest(t)
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	var findings, filtered []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		switch {
		case line == "":
		case userMissingRe.MatchString(line):
			filtered = append(filtered, line)
		default:
			findings = append(findings, line)
		}
	}
	if len(filtered) > 0 {
		t.Logf("ignored, user communs does not exist here: %q", filtered)
	}
	if len(findings) > 0 || (err != nil && len(filtered) == 0) {
		t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, strings.Join(findings, "\n"))
	}
}

// TestSystemdSecurityScore keeps the sandbox from loosening unnoticed: the
// overall exposure `systemd-analyze security` computes stays below 2.0 ("OK").
func TestSystemdSecurityScore(t *testing.T) {
	sa := systemdAnalyze(t)
	out, err := exec.Command(sa, "security", "--offline=true", "--no-pager", unitForTest(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("exposure %.1f", score)
	if score >= 2.0 {
		t.Errorf("exposure %.1f >= 2.0:\n%s", score, out)
	}
}

// systemdNodeEnv is the environment systemd gives the node: Environment=,
// then the EnvironmentFile (the example), whose values win as in systemd.
func systemdNodeEnv(t testing.TB) map[string]string {
	t.Helper()
	u := loadUnit(t)
	env := map[string]string{}
	for _, kv := range u.service["Environment"] {
		k, v, _ := strings.Cut(strings.Trim(kv, `"`), "=")
		env[k] = v
	}
	entries, _ := parseEnvFile(t, "systemd/communs.env.example")
	for _, e := range entries {
		env[e.Key] = e.Value
	}
	return env
}

// TestSystemdEnvRuns starts the binary as the unit would (ExecStart's
// arguments, WorkingDirectory, Environment= and the env example file), with
// the data folder moved to a temporary one and the listen port to a free one.
func TestSystemdEnvRuns(t *testing.T) {
	u := loadUnit(t)
	env := systemdNodeEnv(t)
	data := t.TempDir()
	if u.get(t, "WorkingDirectory") != env["COMMUNS_DATA"] {
		t.Errorf("WorkingDirectory %s is not the data folder", u.get(t, "WorkingDirectory"))
	}
	listen := env["COMMUNS_LISTEN"]
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host != "127.0.0.1" {
		t.Errorf("communs.env.example: COMMUNS_LISTEN=%s should stay on loopback behind the proxy", listen)
	}
	substitute(t, env, "COMMUNS_DATA", data)
	substitute(t, env, "COMMUNS_LISTEN", testenv.FreeAddr(t))
	args := strings.Fields(u.get(t, "ExecStart"))[1:]
	n := startNode(t, data, env, args...)
	n.waitOK(t, "/api/v1/licenses")
	if code, body := n.get(t, "/api/v1/search?q=atelier"); code != http.StatusOK {
		t.Errorf("search on the embedded index: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(data, "catalog.db")); err != nil {
		t.Errorf("the catalog is not in COMMUNS_DATA: %v", err)
	}
	timeout, _ := time.ParseDuration(u.get(t, "TimeoutStopSec"))
	n.stop(t, timeout)
}
