package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/apitest"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web/openapi"
)

func reportCount(t *testing.T, n *testnode.Node) int {
	t.Helper()
	rs, err := n.Service.ListReports(context.Background(), node.ReportFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(rs)
}

// callFrom posts body from the loopback address local, through the
// OpenAPI validator: the report limiter counts per client address.
func callFrom(t *testing.T, local, url, contentType, body string, out any) *http.Response {
	t.Helper()
	v := apitest.New(t, openapi.Document())
	v.Lenient = true
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	v.SetTransport(&http.Transport{DialContext: d.DialContext})
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := (&http.Client{Transport: v}).Do(req)
	if err != nil {
		t.Fatalf("POST %s from %s: %v", url, local, err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp
}

func TestReportAPI(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	url := n.URL + "/api/v1/resources/" + id + "/reports"

	var ack map[string]any
	resp := call(t, "POST", url, "", "application/json",
		strings.NewReader(`{"reason":"broken-file","message":"Le PDF <b>est</b> vide.","contact":"ana@exemple.fr"}`), &ack)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("report: status %d, want 202: %v", resp.StatusCode, ack)
	}
	if _, ok := ack["contact"]; ok {
		t.Errorf("the acknowledgement echoes the contact: %v", ack)
	}
	rep, err := n.Service.GetReport(context.Background(), ack["id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if rep.ResourceID != id || rep.Reason != "broken-file" || rep.Message != "Le PDF <b>est</b> vide." || rep.Contact != "ana@exemple.fr" || !rep.Open() {
		t.Errorf("stored report = %+v", rep)
	}

	bad := []struct {
		name, id, ct, body string
		status             int
		field              string
	}{
		{"unknown resource", "nope", "application/json", `{"reason":"other"}`, 404, ""},
		{"bad reason", id, "application/json", `{"reason":"spam"}`, 400, "reason"},
		{"long message", id, "application/json", `{"reason":"other","message":"` + strings.Repeat("é", 2001) + `"}`, 400, "message"},
		{"contact not an e-mail", id, "application/json", `{"reason":"other","contact":"call me"}`, 400, "contact"},
		{"invalid UTF-8", id, "application/json", "{\"reason\":\"other\",\"message\":\"\xff\"}", 400, "body"},
		{"unknown field", id, "application/json", `{"reason":"other","name":"x"}`, 400, ""},
	}
	for i, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			// Each case from its own address: the limiter must not hide the answer.
			var e errBody
			resp := callFrom(t, fmt.Sprintf("127.0.1.%d", i+1), n.URL+"/api/v1/resources/"+tc.id+"/reports", tc.ct, tc.body, &e)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %+v", resp.StatusCode, tc.status, e)
			}
			if tc.field != "" && e.Error.Field != tc.field {
				t.Errorf("field %q, want %q (%s)", e.Error.Field, tc.field, e.Error.Message)
			}
		})
	}
	if got := reportCount(t, n); got != 1 {
		t.Fatalf("refused reports were stored: %d reports", got)
	}
	if m := metricsText(t, n); !strings.Contains(m, "\ncommuns_open_reports 1\n") {
		t.Errorf("/metrics does not count the open report:\n%s", m)
	}
	if _, err := n.Service.CloseReport(context.Background(), rep.ID, ""); err != nil {
		t.Fatal(err)
	}
	if m := metricsText(t, n); !strings.Contains(m, "\ncommuns_open_reports 0\n") {
		t.Errorf("/metrics still counts the closed report")
	}
}

func metricsText(t *testing.T, n *testnode.Node) string {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Authorization", "Bearer t")
	w := httptest.NewRecorder()
	n.App.Metrics.Handler("t").ServeHTTP(w, req)
	return w.Body.String()
}

// A flood from one address gets 429 with Retry-After and stores nothing more.
func TestReportFloodIsRefused(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	url := n.URL + "/api/v1/resources/" + id + "/reports"
	var last *http.Response
	var e errBody
	for i := 0; i < 20; i++ {
		e = errBody{}
		last = call(t, "POST", url, "", "application/json", strings.NewReader(`{"reason":"other","message":"spam"}`), &e)
		if last.StatusCode != http.StatusAccepted {
			break
		}
	}
	if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" || e.Error.Code != "too_many_requests" {
		t.Fatalf("flood: status %d, Retry-After %q, code %q; want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"), e.Error.Code)
	}
	before := reportCount(t, n)
	if before != 5 {
		t.Errorf("%d reports stored before the limit, want 5", before)
	}
	for i := 0; i < 5; i++ {
		if resp := call(t, "POST", url, "", "application/json", strings.NewReader(`{"reason":"other"}`), nil); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("after the limit: status %d, want 429", resp.StatusCode)
		}
	}
	if got := reportCount(t, n); got != before {
		t.Errorf("429 stored reports: %d, want %d", got, before)
	}
}
