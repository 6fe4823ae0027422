package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
)

// BenchmarkKitZip compares downloading a kit of 10 files as one zip
// (GET /r/{id}.zip) with downloading one file of the same total size
// (GET /r/{id}/files/{name}) from the same node, alternating the two for
// COMMUNS_BENCH_ZIP_ROUNDS rounds (7) and reporting the median of the
// per-round throughput ratios. COMMUNS_BENCH_ZIP_MB sets the total size
// (256; the row is 1024). The peak RSS is read after a 16 MiB kit's
// zip and after all the large ones: memory must not grow with the size.
func BenchmarkKitZip(b *testing.B) {
	total := envInt("COMMUNS_BENCH_ZIP_MB", 256) << 20
	rounds := int(envInt("COMMUNS_BENCH_ZIP_ROUNDS", 7))
	b.Run("disk", func(b *testing.B) {
		for range b.N {
			benchKitZip(b, startBenchNode(b, nil), total, rounds)
		}
	})
	b.Run("minio", func(b *testing.B) {
		m := testenv.StartMinIO(b)
		for range b.N {
			n := startBenchNode(b, nil, "--storage", "s3", "--s3-endpoint", m.Endpoint, "--s3-insecure",
				"--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey, "--s3-bucket", m.Bucket(b), "--s3-path-style", "path")
			benchKitZip(b, n, total, rounds)
		}
	})
}

func benchKitZip(b *testing.B, n *benchNode, total int64, rounds int) {
	b.Helper()
	create := func(id string, files int, size int64) {
		resp := n.do(b, "POST", "/api/v1/resources", "application/json",
			strings.NewReader(`{"id":"`+id+`","title":"Bench `+id+`","kind":"workshop-kit","license":"CC-BY-4.0"}`), -1)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("create: %d\n%s", resp.StatusCode, n.logs)
		}
		each := size / int64(files)
		for i := range files {
			part := each
			if i == files-1 {
				part = size - each*int64(files-1)
			}
			name := fmt.Sprintf("video-%02d.mp4", i)
			resp := n.do(b, "PUT", "/api/v1/resources/"+id+"/files/"+name, "video/mp4", corpus.Content(id, name, part), part)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Fatalf("upload %s: %d\n%s", name, resp.StatusCode, n.logs)
			}
		}
	}
	// get downloads path and returns its duration and length, checking the
	// length is the announced Content-Length.
	get := func(path string) (time.Duration, int64) {
		t0 := time.Now()
		resp := n.do(b, "GET", path, "", nil, -1)
		got, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Length") != strconv.FormatInt(got, 10) {
			b.Fatalf("GET %s: %d, %d bytes, Content-Length %q: %v", path, resp.StatusCode, got, resp.Header.Get("Content-Length"), err)
		}
		return d, got
	}
	create("bench-small", 10, 16<<20)
	get("/r/bench-small.zip")
	rssSmall := peakRSS(b, n.cmd.Process.Pid)
	create("bench-single", 1, total)
	create("bench-kit", 10, total)
	get("/r/bench-single/files/video-00.mp4") // warm the caches for both
	get("/r/bench-kit.zip")
	// The node's CPU time per GB is reported too: on a shared machine it
	// varies less than the wall-clock throughput.
	pid := n.cmd.Process.Pid
	var ratios, single, kit, cpuSingle, cpuKit []float64
	timed := func(path string) (time.Duration, int64, float64) {
		c0 := cpuSeconds(b, pid)
		d, size := get(path)
		return d, size, (cpuSeconds(b, pid) - c0) / float64(size) * 1e9
	}
	for i := range rounds {
		var ds, dz time.Duration
		var ns, nz int64
		var cs, cz float64
		if i%2 == 0 { // alternate which goes first
			ds, ns, cs = timed("/r/bench-single/files/video-00.mp4")
			dz, nz, cz = timed("/r/bench-kit.zip")
		} else {
			dz, nz, cz = timed("/r/bench-kit.zip")
			ds, ns, cs = timed("/r/bench-single/files/video-00.mp4")
		}
		s, z := throughput(ns, ds), throughput(nz, dz)
		single, kit, ratios = append(single, s), append(kit, z), append(ratios, z/s)
		cpuSingle, cpuKit = append(cpuSingle, cs), append(cpuKit, cz)
		b.Logf("single file %.0f MB/s, kit zip %.0f MB/s, ratio %.3f; node CPU %.3f / %.3f s per GB", s, z, z/s, cpuSingle[len(cpuSingle)-1], cpuKit[len(cpuKit)-1])
	}
	median := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(single), "single-file-MB/s")
	b.ReportMetric(median(kit), "kit-zip-MB/s")
	b.ReportMetric(median(ratios), "zip/single-ratio")
	b.ReportMetric(median(cpuSingle), "single-node-CPU-s/GB")
	b.ReportMetric(median(cpuKit), "zip-node-CPU-s/GB")
	b.ReportMetric(rssSmall, "peak-RSS-MiB-after-16MiB-zip")
	b.ReportMetric(peakRSS(b, n.cmd.Process.Pid), "peak-RSS-MiB-after-large")
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read CPU time: %v", err)
	}
	// The fields after the command name (in parentheses, which may hold
	// spaces): utime and stime are the 12th and 13th, in clock ticks.
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// throughput is size bytes over d, in MB/s.
func throughput(size int64, d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
