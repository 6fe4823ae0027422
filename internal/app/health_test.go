package app

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/metrics"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
)

// TestReadyzHidesInternals: /readyz names the part that is down in words;
// the error's text (here a path inside the data folder) goes to the log
// only. Before, the answer carried the error text, paths included.
func TestReadyzHidesInternals(t *testing.T) {
	dir := t.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	// A file where the probe's shard folder should be: Stat fails with
	// "not a directory" and the full path.
	if err := os.WriteFile(filepath.Join(dir, "blobs", probeDigest[:2]), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(healthRoutes(http.NotFoundHandler(), &Stores{Catalog: cat, Blobs: blobs}, metrics.New(), "", log))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(body, &ready); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || ready.Ready || ready.Checks["storage"] != "unavailable" || ready.Checks["catalog"] != "ok" {
		t.Fatalf("/readyz with a broken blob folder: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), dir) || strings.Contains(string(body), "not a directory") {
		t.Fatalf("/readyz shows internals: %s", body)
	}
	if !strings.Contains(logs.String(), "not a directory") || !strings.Contains(logs.String(), "check=storage") {
		t.Fatalf("the log lacks the detail:\n%s", logs.String())
	}
}
