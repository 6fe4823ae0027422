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
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("read RSS: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
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

// BenchmarkImport imports the corpus repeated to COMMUNS_BENCH_IMPORT
// resources (10,000) as kit folders with files capped at 16 KiB (the rate
// measured is the catalog's and the blob store's per-resource cost, not the
// disk's bandwidth, which BenchmarkTransfer measures).
func BenchmarkImport(b *testing.B) {
	count := int(envInt("COMMUNS_BENCH_IMPORT", 10_000))
	rs := corpus.Synthetic(corpus.Open(corpus.MustLoad(b)), count, 3)
	kits := b.TempDir()
	if err := corpus.WriteKits(kits, rs, 16<<10); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		data := b.TempDir()
		t0 := time.Now()
		out, err := run(b, []string{"COMMUNS_DATA=" + data}, "resource", "import", kits)
		d := time.Since(t0)
		if err != nil || !strings.Contains(out, fmt.Sprintf("%d imported", count)) {
			tail := out
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			b.Fatalf("import: %v\n%s", err, tail)
		}
		b.ReportMetric(float64(count)/d.Seconds(), "resources/s")
		b.ReportMetric(d.Seconds(), "total-s")
	}
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
			const clients, rounds = 2, 20
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
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("read RSS: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		switch name {
		case "RssAnon":
			anon = kb / 1024
		case "RssFile":
			file = kb / 1024
		}
	}
	return anon, file
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
