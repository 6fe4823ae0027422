package federation_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// errDisk is what a failing store says: a path and a cause that no
// peer may read.
var errDisk = errors.New("write /var/lib/communs/catalog.db: input/output error")

// failingStore fails the methods named in fail with their error.
type failingStore struct {
	state.Store
	fail map[string]error
}

func (s failingStore) Blocked(ctx context.Context, domain string) (bool, error) {
	if err := s.fail["Blocked"]; err != nil {
		return false, err
	}
	return s.Store.Blocked(ctx, domain)
}

func (s failingStore) EnqueueInbox(ctx context.Context, it state.InboxItem) (bool, error) {
	if err := s.fail["EnqueueInbox"]; err != nil {
		return false, err
	}
	return s.Store.EnqueueInbox(ctx, it)
}

func (s failingStore) ListPeers(ctx context.Context) ([]state.Peer, error) {
	if err := s.fail["ListPeers"]; err != nil {
		return nil, err
	}
	return s.Store.ListPeers(ctx)
}

func (s failingStore) Block(ctx context.Context, domain string) error {
	if err := s.fail["Block"]; err != nil {
		return err
	}
	return s.Store.Block(ctx, domain)
}

// syncBuffer is a log buffer the handlers' goroutines share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// failingHub serves a federation whose store fails as fail says, on the
// public side and on an admin socket; it returns the public URL, the
// admin socket's path and the log.
func failingHub(t *testing.T, fail map[string]error) (string, string, *syncBuffer) {
	t.Helper()
	n := testnode.Start(t, testnode.Options{})
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	logs := &syncBuffer{}
	fed, err := federation.New(federation.Config{PublicURL: base, Username: "hub", Name: "Hub", Service: n.Service,
		Store: failingStore{Store: n.Catalog, fail: fail}, Feed: n.Catalog, DataDir: t.TempDir(), Dev: true,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = fed.Handler(http.NotFoundHandler())
	srv.Start()
	t.Cleanup(srv.Close)

	socket := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	admin := &http.Server{Handler: fed.AdminHandler()}
	go admin.Serve(ln)
	t.Cleanup(func() { admin.Close() })
	return base, socket, logs
}

// TestStorageFailureNeverReachesThePeer: when this hub's store fails while
// an activity comes in, the sender reads a generic text and an id, never
// the store's words; the log line has the id and the cause. A block check
// that failed used to answer 403 "blocked", and gave no id.
func TestStorageFailureNeverReachesThePeer(t *testing.T) {
	for _, c := range []struct {
		method string
		err    error
		status int
	}{
		{"Blocked", errDisk, http.StatusInternalServerError},
		{"EnqueueInbox", errDisk, http.StatusServiceUnavailable},
		{"EnqueueInbox", fmt.Errorf("%w: %w", errDisk, node.ErrUnavailable), http.StatusServiceUnavailable},
	} {
		t.Run(c.method, func(t *testing.T) {
			base, _, logs := failingHub(t, map[string]error{c.method: c.err})
			evil := newEvilActor(t)
			body := mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": evil.base + "/follows/1",
				"type": "Follow", "actor": evil.id, "object": base + "/actor"})
			req, _ := http.NewRequest(http.MethodPost, base+"/actor/inbox", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/activity+json")
			if err := federation.SignRequest(req, evil.key, evil.id+"#key", body); err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, answer)
			}
			for _, detail := range []string{"/var/lib", "catalog.db", "input/output", "blocked"} {
				if strings.Contains(string(answer), detail) {
					t.Errorf("the answer carries %q: %s", detail, answer)
				}
			}
			var e struct {
				Error struct{ Code, Message, ID string }
			}
			if err := json.Unmarshal(answer, &e); err != nil {
				t.Fatalf("answer %s: %v", answer, err)
			}
			if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(e.Error.ID) || !strings.Contains(e.Error.Message, e.Error.ID) {
				t.Fatalf("a failure answered without an error id: %s", answer)
			}
			var line string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "error_id="+e.Error.ID) {
					line = l
				}
			}
			if !strings.Contains(line, "input/output error") {
				t.Fatalf("no log line with error_id=%s and the cause:\n%s", e.Error.ID, logs.String())
			}
		})
	}
}

// TestAdminSocketStatuses: the peer commands answer the node's statuses
// (409, 503, 404), as the rest of the admin API does, and the CLI's client
// reads them back as node errors. They used to answer 500 to all but
// 400, 403 and 404.
func TestAdminSocketStatuses(t *testing.T) {
	_, socket, _ := failingHub(t, map[string]error{
		"ListPeers": fmt.Errorf("list peers: %w", node.ErrUnavailable),
		"Block":     fmt.Errorf("a block of that domain is being written: %w", node.ErrConflict),
	})
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	hc := &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"store down", "GET", "/admin/v1/peers", "", http.StatusServiceUnavailable, "unavailable"},
		{"conflict", "POST", "/admin/v1/peers/block", `{"target":"a.example"}`, http.StatusConflict, "conflict"},
		{"unknown drop", "POST", "/admin/v1/peers/undrop", `{"target":"nothing-dropped"}`, http.StatusNotFound, "not_found"},
		{"unknown operation", "POST", "/admin/v1/peers/befriend", `{}`, http.StatusNotFound, "not_found"},
		{"bad body", "POST", "/admin/v1/peers/follow", `{`, http.StatusBadRequest, "invalid"},
	} {
		req, _ := http.NewRequest(c.method, "http://communs-admin"+c.path, strings.NewReader(c.body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.status || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", c.name, resp.StatusCode, e.Error, c.status, c.code)
		}
	}

	ac := federation.NewAdminClient(socket)
	ctx := context.Background()
	if _, err := ac.Report(ctx); !errors.Is(err, node.ErrUnavailable) {
		t.Errorf("report with the store down: %v, want node.ErrUnavailable", err)
	}
	if _, err := ac.Block(ctx, "a.example"); !errors.Is(err, node.ErrConflict) || !strings.Contains(err.Error(), "being written") {
		t.Errorf("block in conflict: %v, want node.ErrConflict with its reason", err)
	}
}
