// Package metrics exposes the node's Prometheus metrics: HTTP requests by
// route and status with latency, bytes uploaded and downloaded, search
// latency, storage errors, and the depth of the index and delivery queues.
package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Metrics holds the node's collectors in its own registry.
type Metrics struct {
	reg           *prometheus.Registry
	requests      *prometheus.HistogramVec
	uploadBytes   prometheus.Counter
	downloadBytes prometheus.Counter
	search        prometheus.Histogram
	storageErrors *prometheus.CounterVec
}

// New registers the collectors, and the Go runtime's.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "communs_http_request_duration_seconds", Help: "HTTP requests by route pattern, method and status.",
			Buckets: []float64{.002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 10, 60},
		}, []string{"route", "method", "status"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "communs_upload_bytes_total", Help: "Bytes received in request bodies of writes (files and metadata)."}),
		downloadBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "communs_download_bytes_total", Help: "Bytes sent for file and kit downloads (/r/...)."}),
		search: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "communs_search_duration_seconds", Help: "Search engine latency.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, 1}}),
		storageErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "communs_storage_errors_total", Help: "Blob store operations that failed (a missing blob is not an error)."}, []string{"op"}),
	}
	m.reg.MustRegister(m.requests, m.uploadBytes, m.downloadBytes, m.search, m.storageErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Gauge registers a gauge read at scrape time, labelled by one label
// (e.g. failures per peer); fn returns label value -> value.
func (m *Metrics) Gauge(name, help, label string, fn func(ctx context.Context) (map[string]float64, error)) {
	m.reg.MustRegister(&funcCollector{desc: prometheus.NewDesc(name, help, labels(label), nil), label: label, fn: fn})
}

func labels(l string) []string {
	if l == "" {
		return nil
	}
	return []string{l}
}

type funcCollector struct {
	desc  *prometheus.Desc
	label string
	fn    func(ctx context.Context) (map[string]float64, error)
}

func (c *funcCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	vals, err := c.fn(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	if c.label != "" {
		vals = topLabels(vals, maxGaugeLabels)
	}
	for k, v := range vals {
		if c.label == "" {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v)
		} else {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, k)
		}
	}
}

// maxGaugeLabels bounds the series of a labelled gauge: its label values
// come from outside (peer actor ids, and any actor may ask to follow), so
// only the largest values are kept and the rest are summed under "other".
const maxGaugeLabels = 100

func topLabels(vals map[string]float64, limit int) map[string]float64 {
	if len(vals) <= limit {
		return vals
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if vals[keys[i]] != vals[keys[j]] {
			return vals[keys[i]] > vals[keys[j]]
		}
		return keys[i] < keys[j]
	})
	out := make(map[string]float64, limit)
	for i, k := range keys {
		if i < limit-1 && k != "other" {
			out[k] = vals[k]
		} else {
			out["other"] += vals[k]
		}
	}
	return out
}

// Handler serves the metrics in the Prometheus text format. With a token,
// scrapers must send Authorization: Bearer TOKEN: peer names and queue
// depths are nobody else's business.
func (m *Metrics) Handler(token string) http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			http.Error(w, "metrics are off: start the node with --metrics-token TOKEN and scrape with Authorization: Bearer TOKEN", http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="communs-metrics"`)
			http.Error(w, "send Authorization: Bearer with the node's --metrics-token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Middleware records every request. The route is the ServeMux pattern that
// matched (GET /r/{id}/files/{name}), never the raw path, so a crawler
// cannot blow up the number of series.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		var body *countingBody
		if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		next.ServeHTTP(rec, r)
		m.requests.WithLabelValues(routeLabel(r), methodLabel(r.Method), statusLabel(rec.status)).Observe(time.Since(start).Seconds())
		if body != nil {
			m.uploadBytes.Add(float64(body.n))
		}
		if strings.HasPrefix(r.URL.Path, paths.ResourcePrefix) && r.Method == http.MethodGet {
			m.downloadBytes.Add(float64(rec.n))
		}
	})
}

// Every label value comes from a fixed set: a client choosing the method,
// path or (through a proxy) status must not be able to add series, each of
// which holds a histogram in memory for the life of the process.

// methodLabel keeps the methods the node serves; anything else is "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// routeLabel is the ServeMux pattern that matched, written in the code, so
// the set is bounded by the routes; no match is "unmatched", never the path.
func routeLabel(r *http.Request) string {
	if r.Pattern == "" || len(r.Pattern) > 100 {
		return "unmatched"
	}
	return r.Pattern
}

// statusLabel keeps the codes net/http knows (about sixty) and folds the
// rest into their class ("5xx"), or "other" outside 100-599.
func statusLabel(code int) string {
	switch {
	case code == 0:
		return "200"
	case code < 100 || code > 599:
		return "other"
	case http.StatusText(code) == "":
		return strconv.Itoa(code/100) + "xx"
	}
	return strconv.Itoa(code)
}

type recorder struct {
	http.ResponseWriter
	status int
	n      int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ReadFrom keeps io.Copy's sendfile path for downloads while counting.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
	}
	r.n += n
	return n, err
}

type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// Index times searches.
func (m *Metrics) Index(idx node.Index) node.Index { return &timedIndex{Index: idx, h: m.search} }

type timedIndex struct {
	node.Index
	h prometheus.Histogram
}

var _ node.SettingsChecker = (*timedIndex)(nil)

func (t *timedIndex) Search(ctx context.Context, q node.Query) (node.Results, error) {
	start := time.Now()
	res, err := t.Index.Search(ctx, q)
	if err == nil {
		t.h.Observe(time.Since(start).Seconds())
	}
	return res, err
}

// Blobs counts storage failures by operation.
func (m *Metrics) Blobs(b node.Blobs) node.Blobs {
	return &countedBlobs{Blobs: b, errs: m.storageErrors}
}

type countedBlobs struct {
	node.Blobs
	errs *prometheus.CounterVec
}

func (c *countedBlobs) note(op string, err error) error {
	if err != nil && !errors.Is(err, node.ErrNotFound) && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, node.ErrDigestMismatch) && !errors.Is(err, node.ErrTooLarge) {
		c.errs.WithLabelValues(op).Inc()
	}
	return err
}

func (c *countedBlobs) Put(ctx context.Context, r io.Reader, want string) (node.Blob, error) {
	b, err := c.Blobs.Put(ctx, r, want)
	return b, c.note("put", err)
}

func (c *countedBlobs) Open(ctx context.Context, sha string) (node.BlobReader, error) {
	br, err := c.Blobs.Open(ctx, sha)
	return br, c.note("open", err)
}

func (c *countedBlobs) Stat(ctx context.Context, sha string) (int64, error) {
	n, err := c.Blobs.Stat(ctx, sha)
	return n, c.note("stat", err)
}

func (c *countedBlobs) Delete(ctx context.Context, sha string) error {
	return c.note("delete", c.Blobs.Delete(ctx, sha))
}

// NewBatch keeps the store's group commit (node.BatchBlobs) behind the
// counters.
func (c *countedBlobs) NewBatch() (node.BlobBatch, error) {
	b, err := node.NewBlobBatch(c.Blobs)
	if err != nil {
		return nil, c.note("put", err)
	}
	return &countedBatch{BlobBatch: b, c: c}, nil
}

type countedBatch struct {
	node.BlobBatch
	c *countedBlobs
}

func (b *countedBatch) Put(ctx context.Context, r io.Reader, want string) (node.Blob, error) {
	blob, err := b.BlobBatch.Put(ctx, r, want)
	return blob, b.c.note("put", err)
}

func (b *countedBatch) Commit(ctx context.Context) error {
	return b.c.note("put", b.BlobBatch.Commit(ctx))
}

// Compact forwards to the engine when it can compact itself.
func (t *timedIndex) Compact(ctx context.Context) error {
	if c, ok := t.Index.(node.Compacter); ok {
		return c.Compact(ctx)
	}
	return nil
}

// CheckSettings forwards to the engine when it can check its settings.
func (t *timedIndex) CheckSettings(ctx context.Context) error {
	if c, ok := t.Index.(node.SettingsChecker); ok {
		return c.CheckSettings(ctx)
	}
	return nil
}
