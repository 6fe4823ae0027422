package web

import (
	"strings"
	"sync"
	"time"
)

// Login throttling: after loginMaxFailures wrong passwords for one account
// within loginWindow, that account's logins are refused until the window
// ends. Keyed by account rather than address, since behind a reverse proxy
// every request comes from the proxy; bcrypt alone lets a script try
// thousands of passwords a day.
const (
	loginMaxFailures = 5
	loginWindow      = 15 * time.Minute
)

type loginThrottle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
	now      func() time.Time
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{failures: map[string][]time.Time{}, now: time.Now}
}

// blocked reports whether name may not try now, and until when.
func (l *loginThrottle) blocked(name string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	recent := l.prune(strings.ToLower(name))
	if len(recent) < loginMaxFailures {
		return time.Time{}, false
	}
	return recent[0].Add(loginWindow), true
}

func (l *loginThrottle) failed(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := strings.ToLower(name)
	l.failures[key] = append(l.prune(key), l.now())
	if len(l.failures) > 10000 { // bound memory against made-up names
		for k := range l.failures {
			if len(l.prune(k)) == 0 {
				delete(l.failures, k)
			}
		}
	}
}

func (l *loginThrottle) succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, strings.ToLower(name))
}

func (l *loginThrottle) prune(key string) []time.Time {
	cutoff := l.now().Add(-loginWindow)
	ts := l.failures[key]
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = ts
	return ts
}
