package bundle_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/bundle"
)

// BenchmarkBundle20 serves a 20-item collection (3 files per item, on
// disk, COMMUNS_BENCH_BUNDLE_MB in all: 64) as a bundle over loopback HTTP,
// and the same files' bytes raw (one answer, Content-Length, each file
// copied in turn: sendfile for both), alternating which goes first for
// COMMUNS_BENCH_BUNDLE_ROUNDS rounds (7). It reports the medians of both
// throughputs and of the per-round ratio bundle/raw.
func BenchmarkBundle20(b *testing.B) {
	total := benchEnv("COMMUNS_BENCH_BUNDLE_MB", 64) << 20
	rounds := int(benchEnv("COMMUNS_BENCH_BUNDLE_ROUNDS", 7))
	dir := b.TempDir()
	s := bundle.Spec{Hub: bundle.Hub{Name: "Hub du Sud", URL: "https://hub-du-sud.example/"}, Title: "Bench", Created: created}
	var paths []string
	var raw int64
	each := total / 60
	buf := make([]byte, 1<<20)
	for i := range 20 {
		it := bundle.Item{Folder: fmt.Sprintf("%02d-kit", i+1), Title: "Kit", AttributionLine: "Kit par Hub du Sud, CC BY 4.0", License: "CC-BY-4.0"}
		for j := range 3 {
			name := fmt.Sprintf("video-%d.mp4", j)
			p := filepath.Join(dir, fmt.Sprintf("%02d-%s", i, name))
			f, err := os.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			h, c := sha256.New(), crc32.NewIEEE()
			src := &pattern{n: each + int64(i*7+j)}
			if _, err := io.CopyBuffer(io.MultiWriter(f, h, c), src, buf); err != nil {
				b.Fatal(err)
			}
			f.Close()
			it.Files = append(it.Files, bundle.File{Name: name, Size: src.n, SHA256: hex.EncodeToString(h.Sum(nil)), CRC32: c.Sum32(),
				Open: func(context.Context) (io.ReadCloser, error) { return os.Open(p) }})
			paths = append(paths, p)
			raw += src.n
		}
		s.Items = append(s.Items, it)
	}
	bd, err := bundle.Plan(s, signer(b))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bundle.zip" {
			if err := bd.Serve(w, r, "bundle.zip"); err != nil {
				b.Error(err)
			}
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(raw, 10))
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(w, f)
			f.Close()
		}
	}))
	defer srv.Close()
	// get downloads path and returns its throughput, and the process's
	// CPU time per GB (server and client: the client's share is the same
	// for both, and on a shared machine CPU time varies less than the
	// wall clock).
	var cpuPerGB float64
	get := func(path string, want int64) float64 {
		c0 := cpuTime()
		t0 := time.Now()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
		d := time.Since(t0)
		cpuPerGB = (cpuTime() - c0).Seconds() / float64(n) * 1e9
		if err != nil || n != want || resp.ContentLength != want {
			b.Fatalf("GET %s: %d bytes, Content-Length %d, want %d: %v", path, n, resp.ContentLength, want, err)
		}
		return float64(n) / d.Seconds() / 1e6
	}
	b.ResetTimer()
	for range b.N {
		get("/raw", raw) // warm the page cache for both
		get("/bundle.zip", bd.Size())
		var rawMBs, bundleMBs, ratios, rawCPU, bundleCPU []float64
		for i := range rounds {
			var r, z, rc, zc float64
			if i%2 == 0 {
				r = get("/raw", raw)
				rc = cpuPerGB
				z = get("/bundle.zip", bd.Size())
				zc = cpuPerGB
			} else {
				z = get("/bundle.zip", bd.Size())
				zc = cpuPerGB
				r = get("/raw", raw)
				rc = cpuPerGB
			}
			rawMBs, bundleMBs, ratios = append(rawMBs, r), append(bundleMBs, z), append(ratios, z/r)
			rawCPU, bundleCPU = append(rawCPU, rc), append(bundleCPU, zc)
			b.Logf("raw %.0f MB/s, bundle %.0f MB/s, ratio %.3f; CPU %.3f / %.3f s per GB", r, z, z/r, rc, zc)
		}
		median := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
		b.ReportMetric(median(rawMBs), "raw-MB/s")
		b.ReportMetric(median(bundleMBs), "bundle-MB/s")
		b.ReportMetric(median(ratios), "bundle/raw")
		b.ReportMetric(median(rawCPU), "raw-CPU-s/GB")
		b.ReportMetric(median(bundleCPU), "bundle-CPU-s/GB")
		b.ReportMetric(float64(bd.Size()-raw), "zip-overhead-bytes")
	}
}

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchEnv(name string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}
