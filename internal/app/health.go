package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/metrics"
	"github.com/communs-numerique/communs/node"
)

// probeDigest names no blob: asking for it proves the store answers
// without reading or writing anything.
var probeDigest = strings.Repeat("0", 64)

// readiness checks what a request needs: the catalog, the blob store and
// the search index. Each check has its own answer so an admin sees which
// part is down. /readyz is public: an answer says "unavailable" in words,
// never the error's text (paths, endpoints, resolver messages); the detail
// goes to the log, and `communs doctor` shows it on the admin socket.
func readiness(ctx context.Context, st *Stores, log *slog.Logger) (bool, map[string]string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	checks := map[string]string{}
	ready := true
	fail := func(name string, err error) {
		ready = false
		checks[name] = "unavailable"
		log.Warn("readiness check failed", "check", name, "err", err)
	}
	// Count reads one stored key (the catalog keeps its counts up to
	// date on every write): it proves the catalog answers without
	// walking it, on every probe.
	if _, err := st.Catalog.Count(ctx); err != nil {
		fail("catalog", err)
	} else {
		checks["catalog"] = "ok"
	}
	if _, err := st.Blobs.Stat(ctx, probeDigest); err != nil && !errors.Is(err, node.ErrNotFound) {
		fail("storage", err)
	} else {
		checks["storage"] = "ok"
	}
	if st.Index != nil {
		if _, err := st.Index.Count(ctx); err != nil {
			fail("search", err)
		} else {
			checks["search"] = "ok"
		}
	}
	return ready, checks
}

// healthRoutes adds /healthz (the process answers), /readyz (it can serve)
// and /metrics in front of the node's handler.
func healthRoutes(next http.Handler, st *Stores, m *metrics.Metrics, token string, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ready, checks := readiness(r.Context(), st, log)
		status := http.StatusOK
		if !ready {
			status = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"ready": ready, "checks": checks})
	})
	mux.Handle("GET /metrics", m.Handler(token))
	mux.Handle("/", next)
	return m.Middleware(mux)
}

// registerGauges exposes the queues' depths at scrape time.
func registerGauges(m *metrics.Metrics, st *Stores, fed *federation.Federation) {
	if st.Indexer != nil {
		m.Gauge("communs_index_backlog", "Catalog changes not yet applied to the search index.", "", func(ctx context.Context) (map[string]float64, error) {
			s, err := st.Indexer.Status(ctx)
			return map[string]float64{"": float64(s.Backlog)}, err
		})
	}
	m.Gauge("communs_open_reports", "Reports about resources that no admin closed yet.", "", func(ctx context.Context) (map[string]float64, error) {
		n, err := st.Catalog.OpenReports(ctx)
		return map[string]float64{"": float64(n)}, err
	})
	if fed == nil {
		return
	}
	m.Gauge("communs_delivery_queue_depth", "ActivityPub deliveries waiting.", "", func(ctx context.Context) (map[string]float64, error) {
		n, err := fed.Backlog(ctx)
		return map[string]float64{"": float64(n)}, err
	})
	m.Gauge("communs_peer_delivery_failures", "Consecutive failed deliveries per peer.", "peer", func(ctx context.Context) (map[string]float64, error) {
		peers, err := fed.Peers(ctx)
		out := map[string]float64{}
		for _, p := range peers {
			out[p.ActorID] = float64(p.Failures)
		}
		return out, err
	})
}
