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
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/yaml.v3"

	"github.com/communs-numerique/communs/internal/testenv"
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
// Dockerfile

type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string // the rest, continuation lines joined
	Line int
}

type stage struct {
	Image, Name string
	Instrs      []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions: comment
// lines dropped, backslash continuations joined. Enough for the file here,
// which uses no heredocs and no escape directive other than the default.
func parseDockerfile(t testing.TB, text string) []stage {
	t.Helper()
	var stages []stage
	var cur strings.Builder
	start := 0
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		if s == "" {
			return
		}
		cmd, args, _ := strings.Cut(s, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: start}
		if in.Cmd == "FROM" {
			f := strings.Fields(in.Args)
			st := stage{Image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.Name = f[2]
			}
			stages = append(stages, st)
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Fatalf("Dockerfile line %d: %s before the first FROM", in.Line, in.Cmd)
			}
			return
		}
		last := &stages[len(stages)-1]
		last.Instrs = append(last.Instrs, in)
	}
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if rest, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.Instrs {
		if in.Cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s stage) one(t testing.TB, cmd string) instruction {
	t.Helper()
	ins := s.all(cmd)
	if len(ins) != 1 {
		t.Fatalf("stage %s (%s): want exactly one %s, found %d", s.Name, s.Image, cmd, len(ins))
	}
	return ins[0]
}

// envOf reads ENV instructions in the KEY=VALUE form (the only one used).
func (s stage) envOf(t testing.TB) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.Args) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				t.Fatalf("Dockerfile line %d: use ENV KEY=VALUE, got %q", in.Line, in.Args)
			}
			env[k] = v
		}
	}
	return env
}

// jsonArray reads an exec-form argument list, e.g. ["/usr/local/bin/communs"].
func jsonArray(t testing.TB, in instruction) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(in.Args), &out); err != nil {
		t.Fatalf("Dockerfile line %d: %s must use the exec (JSON) form: %v", in.Line, in.Cmd, err)
	}
	return out
}

type dockerfile struct {
	build, runtime stage
	buildCmd       string // the RUN line holding go build, ${ARG}s resolved
	outPath        string // its -o
}

func loadDockerfile(t testing.TB) dockerfile {
	t.Helper()
	stages := parseDockerfile(t, readFile(t, "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("Dockerfile: want 2 stages (build, runtime), got %d", len(stages))
	}
	d := dockerfile{build: stages[0], runtime: stages[1]}
	var runs []instruction
	for _, in := range d.build.all("RUN") {
		if strings.Contains(in.Args, "go build") {
			runs = append(runs, in)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("build stage: want one RUN with go build, got %d", len(runs))
	}
	cmd := runs[0].Args
	// ARG defaults, as docker build substitutes them without --build-arg.
	for _, in := range d.build.all("ARG") {
		k, v, _ := strings.Cut(in.Args, "=")
		cmd = strings.ReplaceAll(cmd, "${"+k+"}", v)
		cmd = strings.ReplaceAll(cmd, "$"+k, v)
	}
	d.buildCmd = cmd
	m := regexp.MustCompile(`\s-o\s+(\S+)`).FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("build stage: go build has no -o: %s", cmd)
	}
	d.outPath = m[1]
	return d
}

var (
	buildOnce   sync.Once
	builtBinary string
	buildErr    error
	buildDir    string
)

// TestMain removes the binary built by communsBinary.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// communsBinary builds ./cmd/communs with the Dockerfile's own RUN line,
// only the -o path moved to a temporary folder, so that every test starts
// the binary the image would hold.
func communsBinary(t testing.TB) string {
	t.Helper()
	d := loadDockerfile(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "communs-deploy")
		if buildErr != nil {
			return
		}
		builtBinary = filepath.Join(buildDir, "communs")
		cmd := strings.Replace(d.buildCmd, " -o "+d.outPath, " -o "+builtBinary, 1)
		c := exec.Command("sh", "-c", cmd)
		c.Dir = repoRoot
		out, err := c.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%s: %v\n%s", cmd, err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("the Dockerfile's build line fails here: %v", buildErr)
	}
	return builtBinary
}

func TestDockerfile(t *testing.T) {
	d := loadDockerfile(t)

	if !strings.HasPrefix(d.build.Image, "golang:1.26") || d.build.Name == "" {
		t.Errorf("build stage: want FROM golang:1.26 AS <name>, got %s AS %q", d.build.Image, d.build.Name)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/communs"} {
		if !strings.Contains(d.buildCmd, want) {
			t.Errorf("build line lacks %s: %s", want, d.buildCmd)
		}
	}
	img, tag, ok := strings.Cut(d.runtime.Image, ":")
	if !ok || tag == "" || tag == "latest" || (img != "alpine" && !strings.HasPrefix(img, "gcr.io/distroless/")) {
		t.Errorf("runtime stage: want a pinned alpine or distroless image, got %s", d.runtime.Image)
	}

	// The binary the build stage writes is the one the runtime copies and runs.
	var copied string
	for _, in := range d.runtime.all("COPY") {
		f := strings.Fields(in.Args)
		if len(f) == 3 && f[0] == "--from="+d.build.Name && f[1] == d.outPath {
			copied = f[2]
		}
	}
	if copied == "" {
		t.Fatalf("runtime stage: no COPY --from=%s %s <dest>", d.build.Name, d.outPath)
	}
	entry := jsonArray(t, d.runtime.one(t, "ENTRYPOINT"))
	cmd := jsonArray(t, d.runtime.one(t, "CMD"))
	if len(entry) == 0 || entry[0] != copied || !slices.Equal(cmd, []string{"serve"}) {
		t.Errorf("want ENTRYPOINT [%q] CMD [\"serve\"], got %v %v", copied, entry, cmd)
	}

	user := d.runtime.one(t, "USER").Args
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("USER %q: the node must not run as root", user)
	}
	if n, err := strconv.Atoi(name); err == nil && n < 1000 {
		t.Errorf("USER %q: want a dedicated uid (10001), not a system one", user)
	}
	if !strings.Contains(readFile(t, "Dockerfile"), "-u "+name) {
		t.Errorf("USER %s: no adduser -u %s creates it", name, name)
	}

	env := d.runtime.envOf(t)
	if env["COMMUNS_DATA"] != "/data" || env["COMMUNS_LISTEN"] != "0.0.0.0:8080" {
		t.Errorf("ENV: want COMMUNS_DATA=/data COMMUNS_LISTEN=0.0.0.0:8080, got %v", env)
	}
	if v := d.runtime.one(t, "VOLUME").Args; v != env["COMMUNS_DATA"] && v != `["`+env["COMMUNS_DATA"]+`"]` {
		t.Errorf("VOLUME %s is not the data folder %s", v, env["COMMUNS_DATA"])
	}
	_, port, _ := strings.Cut(env["COMMUNS_LISTEN"], ":")
	if e := d.runtime.one(t, "EXPOSE").Args; e != port && e != port+"/tcp" {
		t.Errorf("EXPOSE %s, but the node listens on %s", e, port)
	}
	hc := d.runtime.one(t, "HEALTHCHECK").Args
	if !strings.Contains(hc, "CMD ") || !strings.Contains(hc, "http://127.0.0.1:"+port+healthPath) {
		t.Errorf("HEALTHCHECK must probe http://127.0.0.1:%s%s: %s", port, healthPath, hc)
	}
	// busybox wget is what alpine has; a distroless image would have none.
	if strings.Contains(hc, "wget") && img != "alpine" {
		t.Errorf("HEALTHCHECK uses wget, which %s does not ship", d.runtime.Image)
	}
}

// healthPath is what the image's HEALTHCHECK and the compose file probe.
const healthPath = "/healthz"

// TestDockerfileBuildLine: the go build line of the Dockerfile succeeds here
// with the same flags and gives a static binary, as FROM alpine needs.
func TestDockerfileBuildLine(t *testing.T) {
	bin := communsBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has an ELF interpreter: not a static binary", bin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s links shared libraries %v", bin, libs)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "communs version dev") {
		t.Errorf("communs --version (ARG VERSION=dev through -ldflags): %v %s", err, out)
	}
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

// ---------------------------------------------------------------------------
// docker-compose.yml and .env.example

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                                `yaml:"image"`
	Build       *struct{ Context, Dockerfile string } `yaml:"build"`
	Command     any                                   `yaml:"command"`
	Environment map[string]string                     `yaml:"environment"`
	Ports       []string                              `yaml:"ports"`
	Volumes     []string                              `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Restart     string `yaml:"restart"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Disable     bool     `yaml:"disable"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		StartPeriod string   `yaml:"start_period"`
		Retries     int      `yaml:"retries"`
	} `yaml:"healthcheck"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

func loadCompose(t testing.TB) (composeFile, *yaml.Node) {
	t.Helper()
	text := readFile(t, "docker-compose.yml")
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true) // a misspelt key fails here instead of being ignored by compose
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(text), &root); err != nil {
		t.Fatal(err)
	}
	return c, &root
}

// scalars lists every scalar value (not key) of the YAML tree: what compose
// interpolates. Comments are not in it.
func scalars(n *yaml.Node) []string {
	var out []string
	switch n.Kind {
	case yaml.ScalarNode:
		out = append(out, n.Value)
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			out = append(out, scalars(n.Content[i])...)
		}
	default:
		for _, c := range n.Content {
			out = append(out, scalars(c)...)
		}
	}
	return out
}

var (
	interpRe  = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}`)
	bareVarRe = regexp.MustCompile(`\$[A-Za-z_]`)
)

// interpolate applies compose's ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?error} and ${VAR?error} to s with the variables of env.
func interpolate(s string, env map[string]string) (string, error) {
	var errs []error
	out := interpRe.ReplaceAllStringFunc(s, func(m string) string {
		p := interpRe.FindStringSubmatch(m)
		v, set := env[p[1]]
		empty := !set || v == ""
		switch p[2] {
		case "":
			return v
		case ":-":
			if empty {
				return p[3]
			}
		case "-":
			if !set {
				return p[3]
			}
		case ":?":
			if empty {
				errs = append(errs, fmt.Errorf("%s: %s", p[1], p[3]))
			}
		case "?":
			if !set {
				errs = append(errs, fmt.Errorf("%s: %s", p[1], p[3]))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: operator %s not handled by this test", p[1], p[2]))
		}
		return v
	})
	return out, errors.Join(errs...)
}

type envEntry struct {
	Key, Value, Doc string
}

// parseEnvFile reads KEY=VALUE lines and the comment lines just above each;
// commented-out assignments (#KEY=value) are returned with commented set.
func parseEnvFile(t testing.TB, name string) (entries []envEntry, commented []string) {
	t.Helper()
	var doc []string
	assign := regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=(.*)$`)
	sc := bufio.NewScanner(strings.NewReader(readFile(t, name)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			doc = nil
		case strings.HasPrefix(line, "#"):
			c := strings.TrimSpace(strings.TrimPrefix(line, "#"))
			if m := assign.FindStringSubmatch(c); m != nil {
				commented = append(commented, m[1])
				continue
			}
			doc = append(doc, c)
		default:
			m := assign.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("%s: not KEY=VALUE: %q", name, line)
			}
			entries = append(entries, envEntry{Key: m[1], Value: m[2], Doc: strings.Join(doc, " ")})
		}
	}
	return entries, commented
}

func envMap(entries []envEntry) map[string]string {
	m := map[string]string{}
	for _, e := range entries {
		m[e.Key] = e.Value
	}
	return m
}

func TestComposeFile(t *testing.T) {
	c, root := loadCompose(t)
	deployDoc := readFile(t, "README.md")

	want := []string{"communs", "meilisearch", "minio"}
	var got []string
	for name := range c.Services {
		got = append(got, name)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services: want %v, got %v", want, got)
	}

	for name, s := range c.Services {
		if s.Healthcheck == nil || s.Healthcheck.Disable || len(s.Healthcheck.Test) < 2 ||
			(s.Healthcheck.Test[0] != "CMD" && s.Healthcheck.Test[0] != "CMD-SHELL") {
			t.Errorf("service %s: needs a healthcheck with test: [CMD, ...]", name)
		}
		switch {
		case s.Build != nil:
			if s.Image != "" {
				t.Errorf("service %s: both build and image", name)
			}
			if filepath.Join(s.Build.Context, s.Build.Dockerfile) != filepath.Join("..", "deploy", "Dockerfile") {
				t.Errorf("service %s: build %+v, want context .. and dockerfile deploy/Dockerfile", name, *s.Build)
			}
		case s.Image == "":
			t.Errorf("service %s: neither build nor image", name)
		default:
			repo, tag, ok := strings.Cut(s.Image, ":")
			if !ok || tag == "" || tag == "latest" || strings.Contains(s.Image, "$") {
				t.Errorf("service %s: image %s is not pinned to a tag", name, s.Image)
			}
			if repo == "minio/minio" && !strings.HasPrefix(tag, "RELEASE.") {
				t.Errorf("service %s: pin MinIO to a RELEASE.* tag, got %s", name, tag)
			}
			if !strings.Contains(deployDoc, s.Image) {
				t.Errorf("service %s: image %s is not named in deploy/README.md", name, s.Image)
			}
		}
		named := 0
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				continue
			}
			named++
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s: volume %s is not declared under volumes:", name, src)
			}
		}
		if named == 0 {
			t.Errorf("service %s: keeps its data in no named volume", name)
		}
	}
	if c.Services["minio"].Command != "server /data --console-address :9001" {
		t.Errorf("minio command: %v", c.Services["minio"].Command)
	}
	if c.Services["meilisearch"].Environment["MEILI_ENV"] != "production" {
		t.Errorf("meilisearch: MEILI_ENV must be production")
	}

	cs := c.Services["communs"]
	for _, dep := range []string{"minio", "meilisearch"} {
		if cs.DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("communs: depends_on %s needs condition: service_healthy", dep)
		}
	}
	// The node drains for 30 s on SIGTERM; compose's default grace is 10 s.
	if d, err := time.ParseDuration(cs.StopGracePeriod); err != nil || d <= 30*time.Second {
		t.Errorf("communs: stop_grace_period %q must exceed the node's 30 s drain", cs.StopGracePeriod)
	}

	// Every variable of the node is one the binary reads.
	known := knownEnv(t)
	for k := range cs.Environment {
		if !known[k] {
			t.Errorf("communs: environment sets %s, which `communs serve --help` does not know", k)
		}
	}
	for k := range loadDockerfile(t).runtime.envOf(t) {
		if strings.HasPrefix(k, "COMMUNS_") && !known[k] {
			t.Errorf("Dockerfile ENV %s is unknown to the binary", k)
		}
	}
	for k, v := range map[string]string{
		"COMMUNS_STORAGE": "s3", "COMMUNS_S3_ENDPOINT": "minio:9000", "COMMUNS_S3_INSECURE": "true",
		"COMMUNS_S3_PATH_STYLE": "path", "COMMUNS_SEARCH": "meilisearch",
		"COMMUNS_MEILI_URL": "http://meilisearch:7700", "COMMUNS_LOG_FORMAT": "json",
	} {
		if cs.Environment[k] != v {
			t.Errorf("communs: %s=%q, want %q", k, cs.Environment[k], v)
		}
	}
	// The node's credentials are the servers' own, by the same variable.
	varOf := func(s string) string {
		m := interpRe.FindStringSubmatch(s)
		if m == nil {
			return ""
		}
		return m[1]
	}
	minioEnv, meiliEnv := c.Services["minio"].Environment, c.Services["meilisearch"].Environment
	for node, server := range map[string]string{
		cs.Environment["COMMUNS_S3_ACCESS_KEY"]: minioEnv["MINIO_ROOT_USER"],
		cs.Environment["COMMUNS_S3_SECRET_KEY"]: minioEnv["MINIO_ROOT_PASSWORD"],
		cs.Environment["COMMUNS_MEILI_KEY"]:     meiliEnv["MEILI_MASTER_KEY"],
	} {
		if varOf(node) == "" || varOf(node) != varOf(server) {
			t.Errorf("node credential %q and server credential %q must be the same ${VAR}", node, server)
		}
	}
	// The published port reaches the port the image listens on.
	_, port, _ := strings.Cut(loadDockerfile(t).runtime.envOf(t)["COMMUNS_LISTEN"], ":")
	if len(cs.Ports) != 1 || !strings.HasSuffix(cs.Ports[0], ":"+port) {
		t.Errorf("communs: ports %v must publish container port %s", cs.Ports, port)
	}
	if want := "http://127.0.0.1:" + port + healthPath; !slices.Contains(cs.Healthcheck.Test, want) {
		t.Errorf("communs: healthcheck %v must probe %s", cs.Healthcheck.Test, want)
	}

	// Every ${VAR} is documented in .env.example, and every entry there is used.
	entries, _ := parseEnvFile(t, ".env.example")
	documented := envMap(entries)
	used := map[string]bool{}
	for _, s := range scalars(root) {
		if bare := bareVarRe.FindString(strings.ReplaceAll(s, "$$", "")); bare != "" {
			t.Errorf("compose value %q: write ${VAR}, not $VAR (this test reads ${} only)", s)
		}
		for _, m := range interpRe.FindAllStringSubmatch(s, -1) {
			used[m[1]] = true
			if _, ok := documented[m[1]]; !ok {
				t.Errorf("compose uses ${%s}, not documented in .env.example", m[1])
			}
		}
		if _, err := interpolate(s, documented); err != nil {
			t.Errorf("compose value %q with .env.example: %v", s, err)
		}
	}
	for _, e := range entries {
		if !used[e.Key] {
			t.Errorf(".env.example: %s is not used by docker-compose.yml", e.Key)
		}
		if len(e.Doc) < 20 {
			t.Errorf(".env.example: %s needs a comment above it saying what it is", e.Key)
		}
	}
	// The servers' own rules, so that the example values start as written.
	for k, min := range map[string]int{"MINIO_ROOT_USER": 3, "MINIO_ROOT_PASSWORD": 8, "MEILI_MASTER_KEY": 16} {
		if len(documented[k]) < min {
			t.Errorf(".env.example: %s=%q, the server wants %d characters or more", k, documented[k], min)
		}
	}
	if !strings.HasPrefix(documented["COMMUNS_PUBLIC_URL"], "https://") {
		t.Errorf(".env.example: COMMUNS_PUBLIC_URL must be https:// for federation")
	}
	if !strings.Contains(readFile(t, ".gitignore"), ".env") {
		t.Errorf("deploy/.gitignore must ignore .env (it holds secrets)")
	}
}

// composeNodeEnv is the environment the communs container gets: the image's
// ENV, overridden by the compose environment interpolated with .env.example.
func composeNodeEnv(t testing.TB) map[string]string {
	t.Helper()
	c, _ := loadCompose(t)
	entries, _ := parseEnvFile(t, ".env.example")
	vars := envMap(entries)
	env := loadDockerfile(t).runtime.envOf(t)
	for k, v := range c.Services["communs"].Environment {
		s, err := interpolate(v, vars)
		if err != nil {
			t.Fatal(err)
		}
		env[k] = s
	}
	return env
}

// ---------------------------------------------------------------------------
// running the binary

type runningNode struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	base string
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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
	n := &runningNode{logs: &syncBuffer{}, base: "http://" + env["COMMUNS_LISTEN"], done: make(chan struct{})}
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

// ---------------------------------------------------------------------------
// Caddy

func caddyBin(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("caddy")
	if err != nil {
		t.Skip("caddy is not installed (Debian package caddy; `make test-deps` installs it)")
	}
	return p
}

// TestCaddyfileAdapts: Caddy parses the example without warnings and it
// proxies hub.example.fr to the node's default listen address.
func TestCaddyfileAdapts(t *testing.T) {
	caddy := caddyBin(t)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(caddy, "adapt", "--config", "Caddyfile", "--adapter", "caddyfile")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("caddy adapt: %v\n%s", err, stderr.String())
	}
	if strings.Contains(strings.ToLower(stderr.String()), "warn") {
		t.Errorf("caddy adapt warns:\n%s", stderr.String())
	}
	js := stdout.String()
	for _, want := range []string{`"host":["hub.example.fr"]`, `"handler":"reverse_proxy"`, `"dial":"127.0.0.1:8080"`, `"listen":[":443"]`} {
		if !strings.Contains(js, want) {
			t.Errorf("adapted Caddyfile lacks %s:\n%s", want, js)
		}
	}
	if strings.Contains(js, "header_up") || strings.Contains(js, `"encode"`) {
		t.Errorf("the Caddyfile must not rewrite headers nor encode responses:\n%s", js)
	}
}

// TestCaddyInFront runs Caddy with the example Caddyfile in front of the
// node, on loopback. Changed for the test machine, and only this: a global
// block (no admin API, Caddy's own local CA instead of Let's Encrypt, free
// loopback ports, storage in a temporary folder), the site's port, and the
// upstream address. Through it: the node federates under its https public
// URL (WebFinger names it, so Host reached the node as sent), and an 8 MiB
// upload goes through (no body limit).
func TestCaddyInFront(t *testing.T) {
	caddy := caddyBin(t)
	env := systemdNodeEnv(t)
	data := t.TempDir()
	httpsAddr, httpAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	public := "https://hub.example.fr:" + httpsPort
	substitute(t, env, "COMMUNS_DATA", data)
	substitute(t, env, "COMMUNS_LISTEN", testenv.FreeAddr(t))
	substitute(t, env, "COMMUNS_PUBLIC_URL", public)
	n := startNode(t, data, env, "serve")
	n.waitOK(t, "/api/v1/licenses")

	site := readFile(t, "Caddyfile")
	site = strings.Replace(site, "\nhub.example.fr {", "\nhub.example.fr:"+httpsPort+" {", 1)
	site = strings.Replace(site, "reverse_proxy 127.0.0.1:8080", "reverse_proxy "+env["COMMUNS_LISTEN"], 1)
	dir := t.TempDir()
	global := fmt.Sprintf("{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\tdefault_bind 127.0.0.1\n\thttp_port %s\n\thttps_port %s\n\tstorage file_system %s\n}\n",
		httpPort, httpsPort, filepath.Join(dir, "storage"))
	conf := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(conf, []byte(global+site), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(caddy, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("caddy logs:\n%s", logs.String())
		}
	})

	// hub.example.fr resolves to Caddy's loopback port; Caddy's local CA is
	// not trusted here, the name is still checked by SNI on Caddy's side.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, httpsAddr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "hub.example.fr"},
	}}
	acct := "acct:" + env["COMMUNS_HUB"] + "@hub.example.fr:" + httpsPort
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(public + "/.well-known/webfinger?resource=" + url.QueryEscape(acct))
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("%d %s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("WebFinger through Caddy: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(string(body), public+"/") {
		t.Errorf("WebFinger through Caddy does not name %s: %s", public, body)
	}

	token := addUser(t, env, data, "marie", "editor")
	proxied := &http.Client{Transport: client.Transport}
	id := publish(t, proxied, public, token)
	big := bytes.Repeat([]byte("0123456789abcdef"), 8<<20/16)
	putFile(t, proxied, public, token, id, "kit.bin", big)
	resp, err := proxied.Get(public + "/r/" + id + "/files/kit.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, big) {
		t.Errorf("download of the 8 MiB file through Caddy: %d, %d bytes", resp.StatusCode, len(got))
	}
}
