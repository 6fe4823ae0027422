package testenv

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// Eventually polls ok until it returns true and fails the test if it has not
// within the given time. Tests wait on something they can observe (a record
// stored, a line logged, a port answering) instead of sleeping for a guessed
// time: a sleep passes by accident on a fast machine and fails on a slow one.
// Each of more, if any, is printed on failure (a process's captured log, say).
func Eventually(tb testing.TB, within time.Duration, what string, ok func() bool, more ...fmt.Stringer) {
	tb.Helper()
	deadline := time.Now().Add(within)
	pause := 5 * time.Millisecond
	for !ok() {
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s: not within %s", what, within)
			for _, m := range more {
				msg += "\n" + m.String()
			}
			tb.Fatal(msg)
		}
		time.Sleep(pause)
		if pause < 100*time.Millisecond {
			pause *= 2
		}
	}
}

// FreeAddr returns a loopback host:port nothing listens on at the moment of
// the call, for a server the test starts as a separate process (an
// in-process server should listen on 127.0.0.1:0 itself and keep the
// listener, which cannot race another test for the port).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// LogBuffer collects a child process's output; unlike a bytes.Buffer it may
// be read (String) while the process still writes, which the race detector
// would otherwise report.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
