package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testenv"
)

func testConfig(t *testing.T) Config {
	return Config{Data: t.TempDir(), PublicURL: "http://127.0.0.1", Hub: "local", Storage: "disk", Search: "embedded",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// TestOpenReportsEveryProblem: a config with several mistakes names them
// all, so the admin fixes the file in one pass.
func TestOpenReportsEveryProblem(t *testing.T) {
	cfg := testConfig(t)
	cfg.Storage, cfg.Search, cfg.Hub, cfg.Logger, cfg.LogLevel, cfg.LogFormat = "tape", "grep", "Not A Slug", nil, "loud", "text"
	cfg.TLSCert = "cert.pem"
	_, err := Open(context.Background(), cfg)
	if err == nil {
		t.Fatal("Open accepted a broken config")
	}
	for _, want := range []string{"--storage", "--search", "--hub", "--log-level", "--tls-cert"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
}

// TestCloseAfterPartialOpen: an Open that fails after the stores opened
// (here on an unknown licence) closes them again: the data folder can be
// opened at once (bbolt's lock would block otherwise).
func TestCloseAfterPartialOpen(t *testing.T) {
	cfg := testConfig(t)
	cfg.Allow = []string{"WTFPL-9"}
	if _, err := Open(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "WTFPL-9") {
		t.Fatalf("Open with an unknown licence: %v", err)
	}
	cfg.Allow = nil
	done := make(chan error, 1)
	go func() {
		n, err := Open(context.Background(), cfg)
		if err == nil {
			err = n.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the data folder stayed locked after a failed Open")
	}
	var zero Node
	if err := zero.Close(); err != nil {
		t.Fatalf("Close of a node that never opened: %v", err)
	}
}

// TestRunServesTheProductionChain: Run serves health, metrics, gzip and
// the web handler, and stops when its context ends, closing the stores.
func TestRunServesTheProductionChain(t *testing.T) {
	cfg := testConfig(t)
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- n.Run(ctx, ln, nil) }()
	base := "http://" + ln.Addr().String()
	testenv.CheckProductionChain(t, base, "/healthz", "/readyz", "/")
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(ShutdownGrace):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := n.Stores.Catalog.Count(context.Background()); err == nil {
		t.Fatal("the catalog is still open after Run")
	}
}
