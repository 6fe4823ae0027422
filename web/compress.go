package web

import (
	"compress/gzip"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/communs-numerique/communs/internal/paths"
)

// compressible are the types worth gzipping: pages, styles, scripts and
// JSON shrink to a fifth, which matters on a phone with a poor connection.
// Downloads are never compressed: their bytes, length and ETag (the
// SHA-256) must stay those of the file.
var compressible = map[string]bool{
	"text/html": true, "text/css": true, "text/javascript": true, "application/javascript": true,
	"application/json": true, "application/activity+json": true, "application/ld+json": true,
	"application/jrd+json": true, "application/atom+xml": true, "text/plain": true,
}

var gzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression); return w }}

// fastGzip are the types gzipped at gzip.BestSpeed: ActivityPub documents
// go between servers, and a backfill reads a hub's whole outbox (pages of
// about 280 KB for 50 resources). At the default level gzip was 7 % of a
// 100,000-resource backfill's CPU, on the origin's one page being rendered
// while the follower waits for it; BestSpeed halves that for pages 17 % of
// their size instead of 13 %.
var fastGzip = map[string]bool{"application/activity+json": true, "application/ld+json": true}

var fastGzipPool = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed); return w }}

// Compress gzips responses of compressible types for clients that accept
// it.
func Compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead || !acceptsGzip(r) || isDownload(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w}
		defer gw.close()
		next.ServeHTTP(gw, r)
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// isDownload matches /r/{id}/files/{name} and /r/{id}.zip.
func isDownload(p string) bool { return paths.IsDownload(p) }

type gzipWriter struct {
	http.ResponseWriter
	decided bool
	gz      *gzip.Writer
	pool    *sync.Pool // where gz goes back
}

func (g *gzipWriter) decide(status int) {
	if g.decided {
		return
	}
	g.decided = true
	h := g.Header()
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if !compressible[mt] || h.Get("Content-Encoding") != "" || h.Get("Content-Range") != "" ||
		status == http.StatusNoContent || status == http.StatusNotModified || status == http.StatusPartialContent {
		return
	}
	h.Del("Content-Length")
	h.Set("Content-Encoding", "gzip")
	// Handlers may have set Vary themselves (Accept-Language, Cookie).
	if v := h.Get("Vary"); v != "" {
		h.Set("Vary", v+", Accept-Encoding")
	} else {
		h.Set("Vary", "Accept-Encoding")
	}
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("ETag", "W/"+et) // the bytes differ from the identity encoding
	}
	g.pool = &gzipPool
	if fastGzip[mt] {
		g.pool = &fastGzipPool
	}
	g.gz = g.pool.Get().(*gzip.Writer)
	g.gz.Reset(g.ResponseWriter)
}

func (g *gzipWriter) WriteHeader(status int) {
	g.decide(status)
	g.ResponseWriter.WriteHeader(status)
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if !g.decided {
		if g.Header().Get("Content-Type") == "" {
			g.Header().Set("Content-Type", http.DetectContentType(p))
		}
		g.WriteHeader(http.StatusOK)
	}
	if g.gz == nil {
		return g.ResponseWriter.Write(p)
	}
	return g.gz.Write(p)
}

// Flush sends what is compressed so far (streamed answers).
func (g *gzipWriter) Flush() {
	if g.gz != nil {
		_ = g.gz.Flush()
	}
	// Through the writers below (metrics, access log), which flush only
	// by Unwrap.
	_ = http.NewResponseController(g.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the real writer.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

func (g *gzipWriter) close() {
	if g.gz != nil {
		_ = g.gz.Close()
		g.gz.Reset(nil)
		g.pool.Put(g.gz)
	}
}
