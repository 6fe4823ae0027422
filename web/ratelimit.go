package web

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// rateLimiter allows at most max events per key within window, with a
// bounded table: a flood of made-up keys evicts expired entries first,
// then the entries whose last event is oldest. Used for anonymous reports,
// keyed by client address.
type rateLimiter struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	tracked int
	events  map[string][]time.Time
	now     func() time.Time
}

func newRateLimiter(max int, window time.Duration, tracked int) *rateLimiter {
	return &rateLimiter{max: max, window: window, tracked: tracked, events: map[string][]time.Time{}, now: time.Now}
}

// allow counts one event for key and reports true, or reports false and
// when the key may try again; a refused event is not counted.
func (l *rateLimiter) allow(key string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ts := l.prune(key, now)
	if len(ts) >= l.max {
		return ts[0].Add(l.window), false
	}
	if _, ok := l.events[key]; !ok && len(l.events) >= l.tracked {
		l.makeRoom(now)
	}
	l.events[key] = append(ts, now)
	return time.Time{}, true
}

func (l *rateLimiter) prune(key string, now time.Time) []time.Time {
	ts := l.events[key]
	i := 0
	for i < len(ts) && !ts[i].After(now.Add(-l.window)) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.events, key)
		return nil
	}
	l.events[key] = ts
	return ts
}

func (l *rateLimiter) makeRoom(now time.Time) {
	for k := range l.events {
		l.prune(k, now)
	}
	for len(l.events) >= l.tracked {
		var oldest string
		var at time.Time
		for k, ts := range l.events {
			if last := ts[len(ts)-1]; oldest == "" || last.Before(at) {
				oldest, at = k, last
			}
		}
		delete(l.events, oldest)
	}
}

// clientKey is the rate-limit key of a request: its peer address, an IPv6
// address cut to its /64 (one host usually holds the whole /64, so
// rotating within it must not buy new attempts). Behind a reverse proxy
// every client shares the proxy's key: the per-resource bound on open
// reports still holds.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
