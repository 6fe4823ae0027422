package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/communs-numerique/communs/internal/testenv"
)

func scrape(t *testing.T, base, token string) (map[string]*dto.MetricFamily, int) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, resp.StatusCode
	}
	data, _ := io.ReadAll(resp.Body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("/metrics does not parse as Prometheus text: %v\n%s", err, data)
	}
	return fams, 200
}

// requests returns the request count of a route in the duration histogram.
func requests(fams map[string]*dto.MetricFamily, route string) uint64 {
	f := fams["communs_http_request_duration_seconds"]
	if f == nil {
		return 0
	}
	var n uint64
	for _, m := range f.Metric {
		for _, l := range m.Label {
			if l.GetName() == "route" && l.GetValue() == route {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// TestHealthAndMetrics: /healthz answers, /readyz names each part and
// turns 503 when storage is down, /metrics parses and moves with traffic.
func TestHealthAndMetrics(t *testing.T) {
	m := testenv.StartMinIO(t)
	data := t.TempDir()
	addr := testenv.FreeAddr(t)
	base := "http://" + addr
	env := []string{"COMMUNS_DATA=" + data}
	_, logs := startServe(t, env, "--listen", addr, "--metrics-token", "s3cret-scrape",
		"--storage", "s3", "--s3-endpoint", m.Endpoint, "--s3-insecure", "--s3-access-key", m.AccessKey,
		"--s3-secret-key", m.SecretKey, "--s3-bucket", m.Bucket(t), "--s3-path-style", "path")
	waitHTTP(t, base+"/healthz", logs)

	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	getJSONBody(t, base+"/readyz", &ready)
	if !ready.Ready || ready.Checks["catalog"] != "ok" || ready.Checks["storage"] != "ok" || ready.Checks["search"] != "ok" {
		t.Fatalf("/readyz with everything up: %+v", ready)
	}

	if _, status := scrape(t, base, ""); status != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d, want 401", status)
	}
	before, _ := scrape(t, base, "s3cret-scrape")
	for range 3 {
		resp, err := http.Get(base + "/api/v1/resources")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	after, _ := scrape(t, base, "s3cret-scrape")
	if got := requests(after, "GET /api/v1/resources") - requests(before, "GET /api/v1/resources"); got != 3 {
		t.Fatalf("request counter for GET /api/v1/resources moved by %d, want 3", got)
	}
	for _, name := range []string{"communs_upload_bytes_total", "communs_download_bytes_total", "communs_search_duration_seconds",
		"communs_index_backlog", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := after[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	if strings.Contains(logs.String(), m.SecretKey) || strings.Contains(logs.String(), "s3cret-scrape") {
		t.Errorf("a secret reached the logs:\n%s", logs)
	}

	m.Stop()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || ready.Ready || ready.Checks["storage"] == "ok" {
		t.Fatalf("/readyz with MinIO stopped: %d %+v", resp.StatusCode, ready)
	}
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz must stay up while storage is down: %v", err)
	}
	down, _ := scrape(t, base, "s3cret-scrape")
	if f := down["communs_storage_errors_total"]; f == nil || len(f.Metric) == 0 || f.Metric[0].GetCounter().GetValue() < 1 {
		t.Fatalf("storage errors should be counted once MinIO is down: %v", f)
	}
}

func getJSONBody(t *testing.T, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}
