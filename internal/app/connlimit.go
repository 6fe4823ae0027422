package app

import (
	"net"
	"net/http"
	"sync"
)

// connLimiter bounds the public listener's open connections. At the limit
// Accept waits, so further clients queue in the kernel's accept backlog
// instead of using up the process's file descriptors (250 slow clients
// did that before). Keep-alive connections sitting idle give their place
// first: when the limit is reached, and whenever a connection turns idle
// while it is, idle ones are closed (HTTP clients reopen them), so a busy
// hub's browsers cannot hold every slot for IdleTimeout.
//
// golang.org/x/net/netutil.LimitListener does the counting but cannot
// see connection states, which the idle reaping needs.
type connLimiter struct {
	net.Listener
	slots chan struct{}
	done  chan struct{}
	close sync.Once

	mu    sync.Mutex
	idle  map[net.Conn]bool // by the conn http.Server reports in ConnState
	full  bool
	limit int
}

func newConnLimiter(ln net.Listener, limit int) *connLimiter {
	return &connLimiter{Listener: ln, slots: make(chan struct{}, limit), done: make(chan struct{}),
		idle: map[net.Conn]bool{}, limit: limit}
}

func (l *connLimiter) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.setFull(true)
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
		l.setFull(false)
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

func (l *connLimiter) Close() error {
	l.close.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// setFull records that a client waits for a slot, closing the idle
// connections at once when it starts to.
func (l *connLimiter) setFull(full bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.full = full
	if full {
		for c := range l.idle {
			c.Close()
			delete(l.idle, c)
		}
	}
}

// ConnState is the public http.Server's ConnState hook.
func (l *connLimiter) ConnState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch st {
	case http.StateIdle:
		if l.full {
			c.Close()
			return
		}
		l.idle[c] = true
	case http.StateClosed, http.StateHijacked:
		delete(l.idle, c)
	default:
		delete(l.idle, c)
	}
}

type limitedConn struct {
	net.Conn
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
