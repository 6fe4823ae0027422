package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// requestSeries counts the series of the request histogram.
func requestSeries(t *testing.T, m *Metrics) (int, []*dto.Metric) {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "communs_http_request_duration_seconds" {
			return len(f.GetMetric()), f.GetMetric()
		}
	}
	return 0, nil
}

func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestLabelsBounded: made-up methods, paths and statuses sent by clients
// add no series: every label comes from a fixed set. Before, each made-up
// method was a new histogram kept forever (60,000 of them grew the heap by
// about 120 MB).
func TestLabelsBounded(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /r/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/echo/{code}", func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(r.PathValue("code"), &code)
		w.WriteHeader(code)
	})
	h := m.Middleware(mux)

	// Over real loopback connections: methods and paths a client invents.
	srv := httptest.NewServer(h)
	defer srv.Close()
	for i := range 300 {
		req, _ := http.NewRequest(fmt.Sprintf("BREW%d", i), fmt.Sprintf("%s/nowhere/%d", srv.URL, i), nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = srv.Client().Get(fmt.Sprintf("%s/echo/%d", srv.URL, 200+i))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	n, series := requestSeries(t, m)
	// One series for the made-up methods (unmatched, other, 404), and one
	// per status net/http knows between 200 and 499 plus three classes.
	if n > 60 {
		t.Fatalf("%d series after 600 requests with made-up methods, paths and statuses, want a bounded few", n)
	}
	for _, s := range series {
		for _, l := range s.GetLabel() {
			switch v := l.GetValue(); l.GetName() {
			case "method":
				if v != "GET" && v != "other" {
					t.Errorf("method label %q", v)
				}
			case "route":
				if v != "unmatched" && v != "/echo/{code}" {
					t.Errorf("route label %q", v)
				}
			}
		}
	}

	// The measure of the original report: 60,000 made-up methods.
	before := heapAfterGC()
	for i := range 60000 {
		req := httptest.NewRequest("GET", "/", nil)
		req.Method = fmt.Sprintf("X%d", i)
		req.URL.Path = fmt.Sprintf("/made-up/%d", i)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	after := heapAfterGC()
	runtime.KeepAlive(h)
	grown := int64(after) - int64(before)
	t.Logf("heap after 60,000 made-up methods: %+d KiB", grown/1024)
	if grown > 4<<20 {
		t.Fatalf("heap grew by %d KiB for 60,000 requests with made-up methods", grown/1024)
	}
	if n2, _ := requestSeries(t, m); n2 > n+1 {
		t.Fatalf("series grew from %d to %d", n, n2)
	}
}

// TestGaugeLabelsBounded: a labelled gauge whose values come from outside
// (one per peer, and any actor may ask to follow) keeps at most
// maxGaugeLabels series, the largest values, the rest summed as "other".
func TestGaugeLabelsBounded(t *testing.T) {
	m := New()
	m.Gauge("test_peer_failures", "Failures per peer.", "peer", func(context.Context) (map[string]float64, error) {
		out := map[string]float64{"https://worst.example/actor": 1000}
		for i := range 5000 {
			out[fmt.Sprintf("https://spam.example/actor/%d", i)] = 1
		}
		return out, nil
	})
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "test_peer_failures" {
			continue
		}
		if n := len(f.GetMetric()); n > maxGaugeLabels {
			t.Fatalf("%d series for 5001 peers, want at most %d", n, maxGaugeLabels)
		}
		var sum float64
		var worst bool
		for _, s := range f.GetMetric() {
			sum += s.GetGauge().GetValue()
			worst = worst || s.GetLabel()[0].GetValue() == "https://worst.example/actor"
		}
		if sum != 6000 || !worst {
			t.Fatalf("sum %v (want 6000), worst peer kept %v", sum, worst)
		}
		return
	}
	t.Fatal("gauge not gathered")
}
