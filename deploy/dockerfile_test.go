package deploy_test

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

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
