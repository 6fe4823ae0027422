package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/node/web"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
	"github.com/communs-numerique/communs/storage/search/embedded"
)

// logBuf is a slog destination a test can read while the server writes.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Reset forgets what was logged so far.
func (l *logBuf) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// errorLines returns the log lines at level ERROR.
func (l *logBuf) errorLines() []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return out
}

// loggedNode is a real node (bbolt catalog, disk blobs, embedded search)
// whose HTTP server logs into a buffer, so a test can assert on the log.
type loggedNode struct {
	URL     string
	Token   string
	Service *node.Service
	Blobs   node.Blobs
	Indexer *node.Indexer
	Log     *logBuf
	Dir     string
}

func startLogged(t *testing.T, blobs node.Blobs) *loggedNode {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if blobs == nil {
		d, err := blob.NewDisk(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		blobs = d
	}
	idx, err := embedded.Open(filepath.Join(dir, "search"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	lb := &logBuf{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	policy, _ := node.NewPolicy()
	indexer := node.NewIndexer(cat, idx, "test", log)
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Blobs: blobs, Policy: policy, Logger: log, Index: idx, Changed: indexer.Notify})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); indexer.Run(ctx) }()
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = web.New(svc, web.Options{PublicURL: url, Logger: log, Indexer: indexer}).Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	_, tok, err := svc.AddUser(context.Background(), "editor", node.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	return &loggedNode{URL: url, Token: tok, Service: svc, Blobs: blobs, Indexer: indexer, Log: lb, Dir: dir}
}

// raw sends a request with arbitrary headers and returns status, headers, body.
func raw(t *testing.T, method, url string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func waitIndexed(t *testing.T, n *loggedNode, docs int) {
	t.Helper()
	waitFor(t, 10*time.Second, "index", func() bool {
		st, err := n.Indexer.Status(context.Background())
		return err == nil && st.Backlog == 0 && st.Documents == docs
	})
}
