package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/node"
)

// hugeEnv turns on the scale benchmark, up to a million documents: hours
// of CPU on two cores, so never part of a default `make bench`.
const hugeEnv = "COMMUNS_BENCH_HUGE"

// scalePlot is where the scale benchmark draws its figure, from this
// package's folder.
const scalePlot = "../../../docs/search-scale.png"

type scalePoint struct {
	docs          int
	build         time.Duration
	p50, p99      float64 // ms
	rss, cpuQuery float64 // MiB, ms
}

// BenchmarkSearchScale builds indexes of 1k, 10k, 100k and 1M synthetic
// documents (COMMUNS_BENCH_HUGE=1; COMMUNS_BENCH_SCALE_MAX lowers the
// largest size) and reports, for each, the build time, the search latency
// percentiles over the benchmark queries (one client, in process, index
// reopened as a node would after a restart), the CPU time per query and
// the process's resident memory while searching. It draws them in
// docs/search-scale.png.
//
// Documents are generated and indexed 10,000 at a time, so the process
// holds the index and not the corpus.
func BenchmarkSearchScale(b *testing.B) {
	if os.Getenv(hugeEnv) != "1" {
		b.Skipf("set %s=1 to benchmark up to 1,000,000 documents", hugeEnv)
	}
	maxDocs := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("COMMUNS_BENCH_SCALE_MAX")); err == nil && v > 0 {
		maxDocs = v
	}
	base := corpus.MustLoad(b)
	var points []scalePoint
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		if n > maxDocs {
			break
		}
		var pt scalePoint
		b.Run(fmt.Sprintf("docs=%dk", n/1000), func(b *testing.B) {
			pt = scaleRun(b, base, n)
		})
		points = append(points, pt)
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average: %s", strings.TrimSpace(string(la)))
	}
	if err := drawScale(points, scalePlot); err != nil {
		b.Fatalf("draw %s: %v", scalePlot, err)
	}
}

func scaleRun(b *testing.B, base []node.Resource, n int) scalePoint {
	dir := b.TempDir()
	x, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const chunk = 10_000
	// Peak anonymous and file-backed memory while building and
	// compacting: the file-backed part is the segments mapped in memory,
	// which the kernel can drop under pressure; the anonymous part is
	// what the process holds.
	var peakAnon, peakFile float64
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := testenv.ReadMemory(0); err == nil {
				peakAnon, peakFile = max(peakAnon, m.Anon), max(peakFile, m.File)
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	for done := 0; done < n; done += chunk {
		rs := corpus.Synthetic(base, min(chunk, n-done), uint64(done)+42)
		for i := range rs {
			// Synthetic numbers its ids from 0 in every chunk.
			rs[i].ID = fmt.Sprintf("%s-%d", rs[i].ID, done/chunk)
		}
		if err := x.Upsert(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
	// What `communs index rebuild` does after writing every document.
	compactStart := time.Now()
	if err := x.Compact(ctx); err != nil {
		b.Fatal(err)
	}
	compact := time.Since(compactStart)
	build := time.Since(start)
	close(stopSampling)
	<-sampled
	// A node searches an index it reopened: in-memory segments are gone.
	if err := x.Close(); err != nil {
		b.Fatal(err)
	}
	if x, err = Open(dir); err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	for _, q := range benchQueries {
		if _, err := x.Search(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, passes*len(benchQueries))
	cpu0 := processCPU(b)
	b.ResetTimer()
	for range b.N {
		for range passes {
			for _, q := range benchQueries {
				t := time.Now()
				if _, err := x.Search(ctx, q); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
		}
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	debug.FreeOSMemory()
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	pt := scalePoint{docs: n, build: build, p50: at(0.50), p99: at(0.99),
		rss: rssMiB(b), cpuQuery: cpu.Seconds() * 1000 / float64(len(lat))}
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(compact.Seconds(), "compact-s")
	if m, err := testenv.ReadMemory(0); err == nil {
		b.ReportMetric(m.Peak, "peak-RSS-MiB")
	}
	b.ReportMetric(peakAnon, "build-peak-anon-MiB")
	b.ReportMetric(peakFile, "build-peak-file-MiB")
	b.ReportMetric(pt.p50, "p50-ms")
	b.ReportMetric(pt.p99, "p99-ms")
	b.ReportMetric(pt.cpuQuery, "CPU-ms/query")
	b.ReportMetric(pt.rss, "RSS-MiB")
	return pt
}

// processCPU is the user and system CPU time of this process.
func processCPU(b *testing.B) time.Duration {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rssMiB is this process's resident memory now, after a collection.
func rssMiB(b *testing.B) float64 {
	runtime.GC()
	m, err := testenv.ReadMemory(0)
	if err != nil {
		b.Fatal(err)
	}
	return m.RSS
}

// drawScale draws latency (p50, p99) and resident memory against the
// number of documents, side by side, as a PNG.
func drawScale(points []scalePoint, path string) error {
	if len(points) == 0 {
		return nil
	}
	lat := plot.New()
	lat.Title.Text = "Recherche / search latency"
	lat.X.Label.Text = "documents"
	lat.Y.Label.Text = "ms"
	lat.X.Scale = plot.LogScale{}
	lat.X.Tick.Marker = plot.LogTicks{Prec: -1}
	mem := plot.New()
	mem.Title.Text = "Mémoire / resident memory"
	mem.X.Label.Text = "documents"
	mem.Y.Label.Text = "MiB"
	mem.X.Scale = plot.LogScale{}
	mem.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p50, p99, rss := make(plotter.XYs, len(points)), make(plotter.XYs, len(points)), make(plotter.XYs, len(points))
	for i, pt := range points {
		x := float64(pt.docs)
		p50[i], p99[i], rss[i] = plotter.XY{X: x, Y: pt.p50}, plotter.XY{X: x, Y: pt.p99}, plotter.XY{X: x, Y: pt.rss}
	}
	add := func(p *plot.Plot, name string, xys plotter.XYs, color int) error {
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		l.Color, s.Color = plotter.DefaultLineStyle.Color, plotter.DefaultGlyphStyle.Color
		if color > 0 {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			s.Shape = draw.BoxGlyph{}
		}
		p.Add(l, s)
		p.Legend.Add(name, l, s)
		return nil
	}
	if err := add(lat, "p50", p50, 0); err != nil {
		return err
	}
	if err := add(lat, "p99", p99, 1); err != nil {
		return err
	}
	if err := add(mem, "RSS", rss, 0); err != nil {
		return err
	}
	lat.Y.Min, mem.Y.Min = 0, 0
	lat.Legend.Top, lat.Legend.Left = true, true
	mem.Legend.Top, mem.Legend.Left = true, true

	img := vgimg.New(vg.Points(720), vg.Points(300))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align([][]*plot.Plot{{lat, mem}}, tiles, dc)
	lat.Draw(canvases[0][0])
	mem.Draw(canvases[0][1])
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
