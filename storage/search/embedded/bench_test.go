package embedded

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
)

// Benchmarks at 100k documents build a large index (about a minute on two
// cores); they run only with COMMUNS_BENCH_LARGE=1 so a default `make
// bench` stays short.
const largeEnv = "COMMUNS_BENCH_LARGE"

// benchQueries are what mediators type, including the worst cases: a word
// present in most documents, typos on long words, a two-letter prefix,
// browsing, and filters.
var benchQueries = []node.Query{
	{Text: "demarches en ligne"},
	{Text: "mot de pase"},
	{Text: "l'arnaque au colis"},
	{Text: "smartphone"},
	{Text: "smartph"},
	{Text: "sm"},
	{Text: "tablette seniors"},
	{Text: "rgpd association"},
	{Text: "visioconferance"},
	{Text: "accesibilite numerique"},
	{Text: "impots declaration"},
	{Text: "ordinateurs reconditionnés"},
	{Text: "franceconect"},
	{Text: "phishing scams"},
	{Text: "ia generative mediateurs"},
	{Text: "numerique"},
	{Text: "atelier", Filters: map[string][]string{"kind": {"workshop-kit"}}},
	{Text: "arnaque", Filters: map[string][]string{"theme": {"cybersecurite", "banque"}, "level": {"debutant"}}},
	{Text: "messagerie", Sort: "newest"},
	{},
	{Filters: map[string][]string{"hub": {"hub-du-sud"}, "audience": {"seniors"}}},
	{Text: "creer son compte", Page: 3},
}

var (
	benchMu      sync.Mutex
	benchIndexes = map[int]*Index{}
	benchDirs    []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, x := range benchIndexes {
		x.Close()
	}
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// benchIndex builds an index of n synthetic documents once per process:
// testing calls a benchmark function several times while it sizes b.N.
func benchIndex(b *testing.B, n int) *Index {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if x := benchIndexes[n]; x != nil {
		return x
	}
	dir, err := os.MkdirTemp("", "communs-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchDirs = append(benchDirs, dir)
	x, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	rs := corpus.Synthetic(corpus.MustLoad(b), n, 42)
	start := time.Now()
	if err := x.Upsert(context.Background(), rs); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d documents in %v", n, time.Since(start).Round(time.Millisecond))
	benchIndexes[n] = x
	return x
}

// passes is how many times one benchmark op runs every query: `make bench`
// runs each benchmark once (-benchtime=1x), and percentiles need samples.
const passes = 10

// BenchmarkSearch reports search latency percentiles over the benchmark
// queries; one op is `passes` rounds of all of them.
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("docs=%dk", n/1000), func(b *testing.B) {
			if n >= 100_000 && os.Getenv(largeEnv) != "1" {
				b.Skipf("set %s=1 to benchmark %d documents", largeEnv, n)
			}
			x := benchIndex(b, n)
			ctx := context.Background()
			// Warm up: the first searches load segment dictionaries and
			// build the facet caches.
			for _, q := range benchQueries {
				if _, err := x.Search(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			lat := make([]time.Duration, 0, b.N*passes*len(benchQueries))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for range passes {
					for _, q := range benchQueries {
						t0 := time.Now()
						if _, err := x.Search(ctx, q); err != nil {
							b.Fatal(err)
						}
						lat = append(lat, time.Since(t0))
					}
				}
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(p float64) float64 {
		i := min(len(lat)-1, int(p*float64(len(lat))))
		return float64(lat[i].Microseconds()) / 1000
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.ReportMetric(float64(sum.Microseconds())/1000/float64(len(lat)), "mean-ms")
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkSearchEach reports each benchmark query on its own, to see
// which ones make the tail.
func BenchmarkSearchEach(b *testing.B) {
	n := 10_000
	if os.Getenv(largeEnv) == "1" {
		n = 100_000
	}
	x := benchIndex(b, n)
	ctx := context.Background()
	for i, q := range benchQueries {
		name := fmt.Sprintf("%02d-%s", i, q.Text)
		b.Run(name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N*passes)
			for i := 0; i < b.N; i++ {
				for range passes {
					t0 := time.Now()
					if _, err := x.Search(ctx, q); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(t0))
				}
			}
			reportPercentiles(b, lat)
		})
	}
}

func BenchmarkIndex100k(b *testing.B) {
	if os.Getenv(largeEnv) != "1" {
		b.Skipf("set %s=1 to index 100k documents", largeEnv)
	}
	const n = 100_000
	rs := corpus.Synthetic(corpus.MustLoad(b), n, 7)
	ctx := context.Background()
	var size int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		x, err := Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := x.Upsert(ctx, rs); err != nil {
			b.Fatal(err)
		}
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		size = dirSize(b, dir)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(size)/(1<<20), "index-MB")
}

func dirSize(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// The benchmarks are only as meaningful as the synthetic catalog: it must be
// deterministic, valid and made of unique resources.
func TestSynthetic(t *testing.T) {
	base := corpus.MustLoad(t)
	a := corpus.Synthetic(base, 2000, 1)
	b := corpus.Synthetic(base, 2000, 1)
	c := corpus.Synthetic(base, 2000, 2)
	if len(a) != 2000 {
		t.Fatalf("got %d resources", len(a))
	}
	seen := map[string]bool{}
	sameAsC := 0
	for i, r := range a {
		if r.ID != b[i].ID || r.Title != b[i].Title || r.Description != b[i].Description || r.Published != b[i].Published {
			t.Fatalf("resource %d differs between two runs with the same seed", i)
		}
		if r.Title == c[i].Title {
			sameAsC++
		}
		if seen[r.ID] {
			t.Fatalf("duplicate id %s", r.ID)
		}
		seen[r.ID] = true
		if err := r.Validate(); err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
	}
	if sameAsC > 200 {
		t.Errorf("another seed gives the same titles for %d of 2000 resources", sameAsC)
	}
	if corpus.Synthetic(base, 0, 1) != nil || corpus.Synthetic(nil, 10, 1) != nil {
		t.Error("empty input must give no resources")
	}
}
