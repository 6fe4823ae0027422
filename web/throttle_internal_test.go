package web

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLoginThrottleTableBounded: made-up account names cannot grow the
// throttle's table past its cap, and flooding it does not free a blocked
// account.
func TestLoginThrottleTableBounded(t *testing.T) {
	l := newLoginThrottle()
	now := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	for range loginMaxFailures {
		if _, ok := l.reserve("editor"); !ok {
			t.Fatal("first attempts refused")
		}
	}
	if _, ok := l.reserve("editor"); ok {
		t.Fatal("sixth attempt allowed")
	}
	for i := range 3 * loginMaxTracked {
		now = now.Add(time.Millisecond)
		l.reserve(fmt.Sprintf("made-up-%d-%s", i, strings.Repeat("x", 1000)))
		if n := l.size(); n > loginMaxTracked {
			t.Fatalf("table holds %d entries after %d made-up names, cap %d", n, i+1, loginMaxTracked)
		}
	}
	if _, ok := l.reserve("Editor"); ok {
		t.Fatal("a flood of made-up names freed the blocked account")
	}
	for k := range l.attempts {
		if len(k) > loginMaxKey {
			t.Fatalf("key of %d bytes kept", len(k))
		}
	}
	now = now.Add(loginWindow)
	if _, ok := l.reserve("editor"); !ok {
		t.Fatal("account still blocked after the window")
	}
}
