package main

import (
	"context"

	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/catalog"
)

// The benchmarks here drive the real `communs` binary as a separate process,
// so that its peak RSS (VmHWM) is the node's alone. Sizes and counts can be
// raised with environment variables; the defaults are those of the issues.

func envInt(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}

// benchNode is a `communs serve` process with an editor token.
type benchNode struct {
	cmd   *exec.Cmd
	url   string
	token string
	data  string
	logs  *testenv.LogBuffer
}

func startBenchNode(b *testing.B, extraEnv []string, args ...string) *benchNode {
	b.Helper()
	data := b.TempDir()
	env := append([]string{"COMMUNS_DATA=" + data, "COMMUNS_LOG_LEVEL=warn"}, extraEnv...)
	out, err := run(b, env, append([]string{"user", "add", "bench", "--role", "editor"}, args...)...)
	if err != nil {
		b.Fatalf("user add: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	addr := testenv.FreeAddr(b)
	n := &benchNode{url: "http://" + addr, token: lines[len(lines)-1], data: data}
	n.cmd, n.logs = startServe(b, env, append([]string{"--listen", addr, "--public-url", n.url, "--max-file-size", "8GiB"}, args...)...)
	waitHTTP(b, n.url+"/api/v1/licenses", n.logs)
	return n
}

// peakRSS reads the process's high-water mark of resident memory, in MiB.
func peakRSS(b *testing.B, pid int) float64 {
	b.Helper()
	m, err := testenv.ReadMemory(pid)
	if err != nil {
		b.Fatal(err)
	}
	return m.Peak
}

func (n *benchNode) do(b *testing.B, method, path, ctype string, body io.Reader, size int64) *http.Response {
	b.Helper()
	req, err := http.NewRequest(method, n.url+path, body)
	if err != nil {
		b.Fatal(err)
	}
	if size >= 0 && body != nil {
		req.ContentLength = size
	}
	req.Header.Set("Authorization", "Bearer "+n.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// BenchmarkImport compares `communs resource import` of COMMUNS_BENCH_IMPORT
// synthetic kits (2,000; the figure is 10,000) with a reference
// that copies the same kit folders, files capped at 16 KiB so the figure is
// the per-kit cost, not disk bandwidth. The reference copies each kit
// folder (mkdir, then every file: open, create, copy, close) into a fresh
// folder and makes it durable with ONE syncfs(2) of the destination's
// filesystem after every 100 kits and after the last: "one fsync per 100
// kits", the durability the node's group commit gives (it parses and checks
// every kit, hashes every file, and commits 100 kits per bbolt transaction
// on top). Rounds (COMMUNS_BENCH_ROUNDS, at least 5) alternate which of the
// two runs first, each into a fresh folder (data folder for the node, with
// no server running); the ratio is reference time / node time per round,
// and its median is reported (>= 1: the node imports as fast as a plain
// synced copy).
func BenchmarkImport(b *testing.B) {
	count := int(envInt("COMMUNS_BENCH_IMPORT", 2_000))
	rounds := max(5, int(envInt("COMMUNS_BENCH_ROUNDS", 5)))
	rs := corpus.Synthetic(corpus.Open(corpus.MustLoad(b)), count, 3)
	kits := b.TempDir()
	if err := corpus.WriteKits(kits, rs, 16<<10); err != nil {
		b.Fatal(err)
	}
	logMachine(b)
	scratch := b.TempDir()
	for range b.N {
		var ratios, refRates, nodeRates, refCPU, nodeCPU []float64
		for round := range rounds {
			var ref, imp time.Duration
			var rc, nc float64
			steps := []func(){
				func() {
					c0 := selfCPU()
					ref = copyKits(b, kits, scratch, 100)
					rc = selfCPU() - c0
				},
				func() { imp, nc = importKits(b, kits, scratch, count) },
			}
			if round%2 == 1 {
				steps[0], steps[1] = steps[1], steps[0]
			}
			for _, step := range steps {
				step()
			}
			ratios = append(ratios, ref.Seconds()/imp.Seconds())
			refRates = append(refRates, float64(count)/ref.Seconds())
			nodeRates = append(nodeRates, float64(count)/imp.Seconds())
			refCPU, nodeCPU = append(refCPU, rc), append(nodeCPU, nc)
			b.Logf("round %d: reference %.2f s (%.0f kits/s, %.2f CPU-s), node %.2f s (%.0f kits/s, %.2f CPU-s), ratio %.2f, load %s",
				round+1, ref.Seconds(), refRates[round], rc, imp.Seconds(), nodeRates[round], nc, ratios[round], loadavg())
		}
		// CPU seconds (user + system) do not depend on the machine's load
		// the way elapsed time does: on a shared machine they tell whether
		// a change made the work smaller.
		b.ReportMetric(median(refCPU), "reference-CPU-s")
		b.ReportMetric(median(nodeCPU), "node-CPU-s")
		b.ReportMetric(median(ratios), "ratio-median")
		b.ReportMetric(slices.Min(ratios), "ratio-min")
		b.ReportMetric(median(nodeRates), "node-kits/s")
		b.ReportMetric(median(refRates), "reference-kits/s")
	}
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// logMachine prints what the figures depend on: CPU, cores, load, and the
// filesystem the temp folders are on.
func logMachine(b *testing.B) {
	cpu := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fs := "?"
	if out, err := exec.Command("df", "-T", os.TempDir()).Output(); err == nil {
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) > 1 {
			if f := strings.Fields(lines[len(lines)-1]); len(f) > 1 {
				fs = f[1]
			}
		}
	}
	b.Logf("machine: %s, %d cores (GOMAXPROCS %d), %s on %s, load %s",
		cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), os.TempDir(), fs, loadavg())
}

// fresh returns a new empty folder under scratch, the previous one removed
// and the filesystem synced first so that no run pays for another's
// writeback.
func fresh(b *testing.B, scratch, name string) string {
	b.Helper()
	dst := filepath.Join(scratch, name)
	if err := os.RemoveAll(dst); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		b.Fatal(err)
	}
	syncFS(b, dst)
	return dst
}

func syncFS(b *testing.B, dir string) {
	b.Helper()
	f, err := os.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		b.Fatal(err)
	}
}

// copyKits is the reference: copy every kit folder of src into a fresh
// folder, one syncfs per `every` kits and one after the last.
func copyKits(b *testing.B, src, scratch string, every int) time.Duration {
	b.Helper()
	dst := fresh(b, scratch, "reference")
	entries, err := os.ReadDir(src)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	copyFile := func(from, to string) {
		in, err := os.Open(from)
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(out, in, buf); err != nil {
			b.Fatal(err)
		}
		if err := out.Close(); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	n := 0
	for _, e := range entries {
		kit := filepath.Join(src, e.Name())
		files, err := os.ReadDir(kit)
		if err != nil {
			b.Fatal(err)
		}
		to := filepath.Join(dst, e.Name())
		if err := os.Mkdir(to, 0o755); err != nil {
			b.Fatal(err)
		}
		for _, f := range files {
			copyFile(filepath.Join(kit, f.Name()), filepath.Join(to, f.Name()))
		}
		if n++; n%every == 0 {
			syncFS(b, dst)
		}
	}
	if n%every != 0 {
		syncFS(b, dst)
	}
	return time.Since(t0)
}

// selfCPU is this process's user + system CPU time, in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return rusageSeconds(&ru)
}

func rusageSeconds(ru *syscall.Rusage) float64 {
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// importKits runs `communs resource import` into a fresh data folder and
// returns its elapsed and CPU time.
func importKits(b *testing.B, kits, scratch string, count int) (time.Duration, float64) {
	b.Helper()
	data := fresh(b, scratch, "node")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "resource", "import", kits)
	cmd.Env = append(os.Environ(), "COMMUNS_DATA="+data)
	t0 := time.Now()
	outb, err := cmd.CombinedOutput()
	d := time.Since(t0)
	out := string(outb)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d imported", count)) {
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		b.Fatalf("import: %v\n%s", err, out)
	}
	cpu := 0.0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = rusageSeconds(ru)
	}
	return d, cpu
}

// BenchmarkSearchHTTP measures search latency as a mediator's browser sees
// it: GET /api/v1/search on a running node, two concurrent clients, over
// the embedded index, at 1k, 10k and (COMMUNS_BENCH_LARGE=1) 100k
// resources. It also reports the rebuild rate and the index size.
func BenchmarkSearchHTTP(b *testing.B) {
	sizes := []int{1_000, 10_000}
	if os.Getenv("COMMUNS_BENCH_LARGE") == "1" {
		sizes = append(sizes, 100_000)
	}
	base := corpus.MustLoad(b)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("resources=%dk", n/1000), func(b *testing.B) {
			data := b.TempDir()
			seedCatalog(b, filepath.Join(data, "catalog.db"), corpus.Synthetic(base, n, 7))
			env := []string{"COMMUNS_DATA=" + data}
			t0 := time.Now()
			rb := exec.Command(binary, "index", "rebuild")
			rb.Env = append(os.Environ(), env...)
			// No time-out: at 100k on a loaded machine the rebuild outlasts
			// run's two minutes.
			if out, err := rb.CombinedOutput(); err != nil {
				b.Fatalf("rebuild: %v\n%s", err, out)
			}
			rebuild := time.Since(t0)
			addr := testenv.FreeAddr(b)
			// Start-up: from launching serve to its first search answered.
			t1 := time.Now()
			srv, logs := startServe(b, append(env, "COMMUNS_LOG_LEVEL=warn"), "--listen", addr)
			waitHTTP(b, "http://"+addr+"/api/v1/search?q=numerique", logs)
			startup := time.Since(t1)
			queries := searchQueries()
			get := func(q string) {
				resp, err := http.Get("http://" + addr + "/api/v1/search?" + q)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("search %s: %d", q, resp.StatusCode)
				}
			}
			// Measure the steady state of a running hub: the index's
			// background merges after the rebuild have finished (the
			// process is idle) and the caches are warm.
			waitIdle(b, srv.Process.Pid)
			for _, q := range queries {
				get(q)
			}
			// 50 rounds of the 20 queries per client: 2,000 latencies,
			// so the p99 is the 20th slowest rather than the 8th, which
			// one scheduling hiccup of the machine could move by 2 ms.
			const clients, rounds = 2, 50
			var mu sync.Mutex
			var lat []time.Duration
			perQuery := map[string][]time.Duration{}
			cpu0 := cpuTicks(b, srv.Process.Pid)
			b.ResetTimer()
			for range b.N {
				var wg sync.WaitGroup
				for c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						mine := make([]time.Duration, 0, rounds*len(queries))
						mineQ := map[string][]time.Duration{}
						for r := range rounds {
							for i := range queries {
								q := queries[(i+c*7+r)%len(queries)]
								t := time.Now()
								get(q)
								d := time.Since(t)
								mine = append(mine, d)
								mineQ[q] = append(mineQ[q], d)
							}
						}
						mu.Lock()
						lat = append(lat, mine...)
						for q, ds := range mineQ {
							perQuery[q] = append(perQuery[q], ds...)
						}
						mu.Unlock()
					}()
				}
				wg.Wait()
			}
			b.StopTimer()
			// CPU time of the node per query: steadier than latency on a
			// machine shared with other jobs.
			cpuPerQuery := float64(cpuTicks(b, srv.Process.Pid)-cpu0) * 10 / float64(len(lat))
			type slow struct {
				q   string
				p95 time.Duration
			}
			var slowest []slow
			for q, ds := range perQuery {
				slices.Sort(ds)
				slowest = append(slowest, slow{q, ds[len(ds)*95/100]})
			}
			slices.SortFunc(slowest, func(a, b slow) int { return int(b.p95 - a.p95) })
			for _, s := range slowest[:min(3, len(slowest))] {
				b.Logf("slowest: %q p95 %s", s.q, s.p95.Round(100*time.Microsecond))
			}
			slices.Sort(lat)
			at := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
			}
			b.ReportMetric(at(0.50), "p50-ms")
			b.ReportMetric(at(0.95), "p95-ms")
			b.ReportMetric(at(0.99), "p99-ms")
			b.ReportMetric(float64(n)/rebuild.Seconds(), "rebuild-resources/s")
			b.ReportMetric(float64(dirBytes(b, filepath.Join(data, "search")))/(1<<20), "index-MiB")
			b.ReportMetric(peakRSS(b, srv.Process.Pid), "serve-peak-RSS-MiB")
			anon, file := rssParts(b, srv.Process.Pid)
			b.ReportMetric(anon, "serve-RSS-anon-MiB")
			b.ReportMetric(file, "serve-RSS-file-MiB")
			b.ReportMetric(cpuPerQuery, "serve-CPU-ms/query")
			b.ReportMetric(startup.Seconds()*1000, "startup-ms")
			// A restart of the same node, its index merged: what an
			// operator waits for after an upgrade.
			srv.Process.Signal(os.Interrupt)
			srv.Wait()
			t2 := time.Now()
			srv2, logs2 := startServe(b, append(env, "COMMUNS_LOG_LEVEL=warn"), "--listen", addr)
			waitHTTP(b, "http://"+addr+"/api/v1/search?q=numerique", logs2)
			b.ReportMetric(time.Since(t2).Seconds()*1000, "restart-ms")
			for range 2 {
				for _, q := range queries {
					get(q)
				}
			}
			b.ReportMetric(peakRSS(b, srv2.Process.Pid), "restarted-peak-RSS-MiB")
			anon, file = rssParts(b, srv2.Process.Pid)
			b.ReportMetric(anon, "restarted-RSS-anon-MiB")
			b.ReportMetric(file, "restarted-RSS-file-MiB")
			if la, err := os.ReadFile("/proc/loadavg"); err == nil {
				b.Logf("load average: %s", strings.TrimSpace(string(la)))
			}
		})
	}
}

// rssParts reads the process's current resident memory, split into
// anonymous (heap, stacks) and file-backed (the index's memory-mapped
// segments, which the kernel can drop under pressure), in MiB.
func rssParts(b *testing.B, pid int) (anon, file float64) {
	b.Helper()
	m, err := testenv.ReadMemory(pid)
	if err != nil {
		b.Fatal(err)
	}
	return m.Anon, m.File
}

// cpuTicks is the process's user and system CPU time, in clock ticks
// (1/100 s).
func cpuTicks(b *testing.B, pid int) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// waitIdle waits until a process uses under 5% of a core for a second.
func waitIdle(b *testing.B, pid int) {
	b.Helper()
	ticks := func() int64 { return cpuTicks(b, pid) }
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		t0 := ticks()
		time.Sleep(time.Second)
		if ticks()-t0 < 5 { // clock ticks are 1/100 s
			return
		}
	}
	b.Logf("process %d still busy after 3 minutes; measuring anyway", pid)
}

// searchQueries are what mediators type, as URL query strings.
func searchQueries() []string {
	var out []string
	for _, t := range []string{"demarches en ligne", "mot de pase", "l'arnaque au colis", "smartphone", "smartph", "sm",
		"tablette seniors", "rgpd association", "visioconferance", "accesibilite numerique", "franceconect",
		"phishing scams", "ia generative mediateurs", "numerique"} {
		out = append(out, "q="+url.QueryEscape(t))
	}
	return append(out, "q=atelier&kind=workshop-kit", "q=arnaque&theme=cybersecurite&theme=banque&level=debutant",
		"q=messagerie&sort=newest", "", "hub=hub-du-sud&audience=seniors", "q=creer+son+compte&page=3")
}

// seedCatalog writes resources straight into a catalog file, the fastest
// way to a large hub; the rebuild then indexes them.
func seedCatalog(b *testing.B, path string, rs []node.Resource) {
	b.Helper()
	cat, err := catalog.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	cat.DB().NoSync = true
	ctx := context.Background()
	now := time.Now()
	for i, r := range rs {
		r.Created = now.Add(time.Duration(i) * time.Millisecond)
		if err := cat.Create(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	cat.DB().NoSync = false
}

func dirBytes(b *testing.B, dir string) int64 {
	var total int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return total
}
