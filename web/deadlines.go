package web

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Request bodies have two clocks. The server's ReadTimeout (serve's
// --read-timeout) bounds the time to read a whole request: small bodies
// (JSON, forms, ActivityPub inbox) have no reason to take longer, and a
// client trickling one byte at a time must not hold a connection forever.
// An upload of several GB on a poor line takes longer than any total
// deadline, so once its sender is authenticated the handler switches its
// body to an idle deadline: each read must bring a byte within
// UploadIdleTimeout, however long the whole takes.

// DefaultUploadIdleTimeout is Options.UploadIdleTimeout when unset.
const DefaultUploadIdleTimeout = 60 * time.Second

// uploadBody wraps a request body; until streaming is switched on it does
// nothing, after that every read pushes the read deadline idle ahead.
type uploadBody struct {
	io.ReadCloser
	rc        *http.ResponseController
	idle      time.Duration
	streaming atomic.Bool
}

func (b *uploadBody) Read(p []byte) (int, error) {
	streaming := b.streaming.Load()
	if streaming {
		// An error means the writer cannot set deadlines (a wrapper without
		// Unwrap); the server's total deadline then stays in force.
		_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	}
	n, err := b.ReadCloser.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		if streaming {
			err = fmt.Errorf("upload stopped: no byte received for %v: %w", b.idle, errBodyTimeout)
		} else {
			err = fmt.Errorf("request body not received in time: %w", errBodyTimeout)
		}
	}
	return n, err
}

// stream switches the body from the server's total deadline to the idle
// deadline. Call it only once the sender is known to be an editor.
func (b *uploadBody) stream() {
	if b == nil || b.idle <= 0 {
		return
	}
	b.streaming.Store(true)
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
}

// uploadBody wraps r.Body so an upload can later switch to the idle
// deadline. It must run before anything reads the body (a multipart
// reader keeps the body it was made with).
func (s *Server) uploadBody(w http.ResponseWriter, r *http.Request) *uploadBody {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b := &uploadBody{ReadCloser: r.Body, rc: http.NewResponseController(w), idle: s.uploadIdle}
	r.Body = b
	return b
}
