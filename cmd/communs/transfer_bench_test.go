package main

import (
	"context"
	"crypto/sha256"
	binenc "encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/communs-numerique/communs/internal/testenv"
)

// BenchmarkTransfer measures a file's way into and out of the node against
// what the same machine does without the node, in the same run: each round
// runs the reference and the node one after the other (alternating which
// goes first, so neither always gets the warmer cache), and the reported
// ratios are the medians over the rounds (reference time / node time: 1.0
// means as fast as the reference).
//
//	disk-download  GET /r/{id}/files/{name}  vs  http.ServeFile of the blob's file
//	disk-upload    PUT .../files/{name}      vs  writing the same bytes to a file + fsync
//	s3-download    GET /r/{id}/files/{name}  vs  minio-go GetObject of the blob's object to io.Discard
//	s3-upload      PUT .../files/{name}      vs  minio-go PutObject of the same bytes
//
// COMMUNS_BENCH_FILE_MB sets the size (256; 1024 for the 1 GiB
// case) and COMMUNS_BENCH_ROUNDS the rounds (5). Every upload round sends
// new bytes, so no store can skip the work by deduplication.
func BenchmarkTransfer(b *testing.B) {
	size := envInt("COMMUNS_BENCH_FILE_MB", 256) << 20
	rounds := int(envInt("COMMUNS_BENCH_ROUNDS", 5))
	logMachine(b)
	b.Run("disk-download", func(b *testing.B) {
		for range b.N {
			n := startBenchNode(b, nil)
			sha := digest(0, size)
			n.upload(b, "dl", "video.mp4", 0, size, "")
			path := filepath.Join(n.data, "blobs", sha[0:2], sha[2:4], sha)
			ref := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.ServeFile(w, r, path)
			}))
			defer ref.Close()
			compare(b, rounds, size, n, func(int) { get(b, ref.URL, "", size) },
				func(int) { get(b, n.url+"/r/dl/files/video.mp4", "", size) })
		}
	})
	b.Run("disk-upload", func(b *testing.B) {
		for range b.N {
			n := startBenchNode(b, nil)
			dir := b.TempDir()
			compare(b, rounds, size, n, func(i int) {
				f, err := os.Create(filepath.Join(dir, "direct.bin"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(f, roundContent(2*i, size)); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
				f.Close()
			}, func(i int) { n.upload(b, "up", fmt.Sprintf("v%d.mp4", i), 2*i+1, size, "") })
		}
	})
	b.Run("s3", func(b *testing.B) {
		m := testenv.StartMinIO(b)
		cl, err := minio.New(m.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(m.AccessKey, m.SecretKey, ""), BucketLookup: minio.BucketLookupPath})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		startS3Node := func(b *testing.B) (*benchNode, string) {
			bucket := m.Bucket(b)
			return startBenchNode(b, nil, "--storage", "s3", "--s3-endpoint", m.Endpoint, "--s3-insecure",
				"--s3-access-key", m.AccessKey, "--s3-secret-key", m.SecretKey, "--s3-bucket", bucket, "--s3-path-style", "path"), bucket
		}
		b.Run("download", func(b *testing.B) {
			for range b.N {
				n, bucket := startS3Node(b)
				sha := digest(0, size)
				n.upload(b, "dl", "video.mp4", 0, size, "")
				// A large blob uploaded without its digest is a pointer to data/<id>.
				key := "blobs/" + sha
				if info, err := cl.StatObject(ctx, bucket, key, minio.StatObjectOptions{}); err != nil {
					b.Fatal(err)
				} else if id := info.UserMetadata["Communs-Data"]; id != "" {
					key = "data/" + id
				}
				compare(b, rounds, size, n, func(int) {
					obj, err := cl.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
					if err != nil {
						b.Fatal(err)
					}
					got, err := io.Copy(io.Discard, obj)
					obj.Close()
					if err != nil || got != size {
						b.Fatalf("direct read: %d of %d bytes: %v", got, size, err)
					}
				}, func(int) { get(b, n.url+"/r/dl/files/video.mp4", "", size) })
			}
		})
		for _, declared := range []bool{false, true} {
			name := "upload"
			if declared {
				name = "upload-declared-sha256"
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					n, bucket := startS3Node(b)
					shas := make([]string, rounds)
					for i := range shas {
						if declared {
							shas[i] = digest(2*i+1, size)
						}
					}
					compare(b, rounds, size, n, func(i int) {
						if _, err := cl.PutObject(ctx, bucket, "direct.bin", roundContent(2*i, size), size, minio.PutObjectOptions{}); err != nil {
							b.Fatal(err)
						}
					}, func(i int) { n.upload(b, "up", fmt.Sprintf("v%d.mp4", i), 2*i+1, size, shas[i]) })
				}
			})
		}
	})
}

// compare runs rounds of ref then node (or node then ref, every other
// round) and reports the medians.
func compare(b *testing.B, rounds int, size int64, n *benchNode, ref, node func(round int)) {
	b.Helper()
	var refT, nodeT, ratios []float64
	timed := func(f func(int), i int) float64 {
		t0 := time.Now()
		f(i)
		return time.Since(t0).Seconds()
	}
	for i := range rounds {
		var r, d float64
		if i%2 == 0 {
			r, d = timed(ref, i), timed(node, i)
		} else {
			d, r = timed(node, i), timed(ref, i)
		}
		refT, nodeT, ratios = append(refT, r), append(nodeT, d), append(ratios, r/d)
		b.Logf("round %d: reference %.0f MB/s, node %.0f MB/s, ratio %.2f", i+1, float64(size)/1e6/r, float64(size)/1e6/d, r/d)
	}
	b.ReportMetric(float64(size)/1e6/median(refT), "ref-MB/s")
	b.ReportMetric(float64(size)/1e6/median(nodeT), "node-MB/s")
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(slices.Min(ratios), "ratio-min")
	b.ReportMetric(slices.Max(ratios), "ratio-max")
	b.ReportMetric(peakRSS(b, n.cmd.Process.Pid), "node-peak-RSS-MiB")
	b.ReportMetric(loadAvg(), "load1")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// digest is the SHA-256 of round's content, computed outside the timings.
func digest(round int, size int64) string {
	h := sha256.New()
	io.Copy(h, roundContent(round, size))
	return hex.EncodeToString(h.Sum(nil))
}

// upload creates resource id if needed and PUTs size bytes of round's
// content as file name; a non-empty sha is sent as X-Sha256.
func (n *benchNode) upload(b *testing.B, id, name string, round int, size int64, sha string) {
	b.Helper()
	resp := n.do(b, "GET", "/api/v1/resources/"+id, "", nil, -1)
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		resp = n.do(b, "POST", "/api/v1/resources", "application/json",
			strings.NewReader(`{"id":"`+id+`","title":"Bench `+id+`","kind":"workshop-kit","license":"CC-BY-4.0"}`), -1)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("create: %d\n%s", resp.StatusCode, n.logs)
		}
	}
	req, err := http.NewRequest("PUT", n.url+"/api/v1/resources/"+id+"/files/"+name, roundContent(round, size))
	if err != nil {
		b.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+n.token)
	req.Header.Set("Content-Type", "video/mp4")
	if sha != "" {
		req.Header.Set("X-Sha256", sha)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("upload: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		b.Fatalf("upload: %d\n%s", resp.StatusCode, n.logs)
	}
}

// get downloads url to io.Discard and checks the length.
func get(b *testing.B, url, rng string, want int64) {
	b.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("GET %s: %v", url, err)
	}
	got, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || got != want || resp.StatusCode >= 300 {
		b.Fatalf("GET %s: %d, %d of %d bytes: %v", url, resp.StatusCode, got, want, err)
	}
}

// contentBlock is 4 MiB of random bytes shared by every round: generating
// content must cost next to nothing next to what is measured.
var contentBlock = sync.OnceValue(func() []byte {
	p := make([]byte, 4<<20)
	r := rand.New(rand.NewPCG(14, 14))
	for i := 0; i+8 <= len(p); i += 8 {
		binenc.LittleEndian.PutUint64(p[i:], r.Uint64())
	}
	return p
})

// roundContent is size bytes unique to round: the shared block with the
// round and the block's number stamped at each block's start.
func roundContent(round int, size int64) io.Reader {
	return &stamped{round: uint64(round), left: size}
}

type stamped struct {
	round, off uint64
	left       int64
}

func (s *stamped) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	blk := contentBlock()
	at := s.off % uint64(len(blk))
	if at == 0 {
		var st [16]byte
		binenc.LittleEndian.PutUint64(st[:], s.round)
		binenc.LittleEndian.PutUint64(st[8:], s.off/uint64(len(blk)))
		n := copy(p, st[:min(int64(len(st)), s.left)])
		s.off += uint64(n)
		s.left -= int64(n)
		return n, nil
	}
	n := copy(p[:min(int64(len(p)), s.left)], blk[at:])
	s.off += uint64(n)
	s.left -= int64(n)
	return n, nil
}

func loadAvg() float64 {
	var l float64
	if data, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Sscanf(string(data), "%f", &l)
	}
	return l
}

// BenchmarkConcurrentDownloads reports the node's peak RSS while 1, 50 and
// 200 clients download the same file from disk storage at once
// (COMMUNS_BENCH_CONCURRENT_MB sets the file's size, 64; the issue asks for 256). Memory must not
// follow the file's size: the kernel sends it (sendfile), the node holds a
// connection's bookkeeping per client.
func BenchmarkConcurrentDownloads(b *testing.B) {
	size := envInt("COMMUNS_BENCH_CONCURRENT_MB", 64) << 20
	logMachine(b)
	for range b.N {
		n := startBenchNode(b, nil)
		n.upload(b, "dl", "video.mp4", 0, size, "")
		base := peakRSS(b, n.cmd.Process.Pid)
		b.ReportMetric(base, "RSS-MiB-idle")
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
		for _, c := range []int{1, 50, 200} {
			t0 := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, c)
			for range c {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := client.Get(n.url + "/r/dl/files/video.mp4")
					if err != nil {
						errs <- err
						return
					}
					got, err := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err != nil || got != size {
						errs <- fmt.Errorf("%d of %d bytes: %v", got, size, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatalf("%d concurrent downloads: %v", c, err)
			}
			d := time.Since(t0)
			rss := peakRSS(b, n.cmd.Process.Pid)
			b.Logf("%d concurrent downloads of %d MiB: %.1f s, %.0f MB/s in all, node peak RSS %.1f MiB (+%.1f)",
				c, size>>20, d.Seconds(), float64(size)*float64(c)/1e6/d.Seconds(), rss, rss-base)
			b.ReportMetric(rss, fmt.Sprintf("peak-RSS-MiB-%d", c))
		}
		b.ReportMetric(loadAvg(), "load1")
	}
}
