package deploy_test

import (
	"bufio"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

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
