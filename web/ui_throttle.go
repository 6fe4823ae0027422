package web

import (
	"strings"
	"sync"
	"time"
)

// Login throttling: at most loginMaxFailures password checks per account
// that did not end in a login, within loginWindow; beyond that the
// account's logins are refused until the window ends. Keyed by account
// rather than address, since behind a reverse proxy every request comes
// from the proxy; bcrypt alone lets a script try thousands of passwords a
// day.
//
// An attempt is counted before its password is checked (reserve), and the
// count is cleared only by a successful login: counting after the check
// let sixty parallel guesses all pass the test before any was recorded.
const (
	loginMaxFailures = 5
	loginWindow      = 15 * time.Minute
	// loginMaxTracked bounds the table against made-up account names; the
	// key is cut at loginMaxKey bytes (account names are at most 32).
	loginMaxTracked = 10000
	loginMaxKey     = 64
)

type loginThrottle struct {
	mu       sync.Mutex
	attempts map[string][]time.Time
	now      func() time.Time
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{attempts: map[string][]time.Time{}, now: time.Now}
}

func throttleKey(name string) string {
	if len(name) > loginMaxKey {
		name = name[:loginMaxKey]
	}
	return strings.ToLower(name)
}

// reserve counts one attempt for name and reports true when it may go on
// to the password check; when the account has used up its attempts it
// reports false and when the oldest one expires.
func (l *loginThrottle) reserve(name string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := throttleKey(name)
	recent := l.prune(key)
	if len(recent) >= loginMaxFailures {
		return recent[0].Add(loginWindow), false
	}
	if _, tracked := l.attempts[key]; !tracked && len(l.attempts) >= loginMaxTracked {
		l.makeRoom()
	}
	l.attempts[key] = append(recent, l.now())
	return time.Time{}, true
}

// makeRoom frees entries when the table is full: expired ones first, then
// accounts that are not blocked (a made-up name has one attempt), and only
// if every entry is a blocked account, the oldest half. Flushing a blocked
// account's count therefore costs an attacker five password checks for
// each of ten thousand names.
func (l *loginThrottle) makeRoom() {
	for k := range l.attempts {
		l.prune(k)
	}
	if len(l.attempts) < loginMaxTracked {
		return
	}
	for k, ts := range l.attempts {
		if len(ts) < loginMaxFailures {
			delete(l.attempts, k)
		}
	}
	if len(l.attempts) < loginMaxTracked {
		return
	}
	cutoff := l.now().Add(-loginWindow / 2)
	for k, ts := range l.attempts {
		if ts[len(ts)-1].Before(cutoff) {
			delete(l.attempts, k)
		}
	}
	for k := range l.attempts { // still full: drop arbitrary entries
		if len(l.attempts) < loginMaxTracked*3/4 {
			break
		}
		delete(l.attempts, k)
	}
}

// release gives back an attempt whose password could not be checked (the
// account store failed): an outage must not lock editors out.
func (l *loginThrottle) release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := throttleKey(name)
	if ts := l.prune(key); len(ts) > 0 {
		l.attempts[key] = ts[:len(ts)-1]
		l.prune(key)
	}
}

// succeeded clears the account's count: the password was right.
func (l *loginThrottle) succeeded(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.attempts, throttleKey(name))
}

func (l *loginThrottle) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.attempts)
}

func (l *loginThrottle) prune(key string) []time.Time {
	cutoff := l.now().Add(-loginWindow)
	ts := l.attempts[key]
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.attempts, key)
		return nil
	}
	l.attempts[key] = ts
	return ts
}
