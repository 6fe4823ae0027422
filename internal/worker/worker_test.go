package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/worker"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestLoop: a wake-up runs the step at once (the period is an hour), a
// failing step is retried after the backoff, and the loop returns when
// its context ends.
func TestLoop(t *testing.T) {
	tests := []struct {
		name     string
		fails    int32 // steps that fail before the first success
		wake     bool
		debounce time.Duration
		want     int32 // steps to wait for
	}{
		{name: "wake-up runs the step", wake: true, want: 2},
		{name: "wake-up with debounce", wake: true, debounce: 20 * time.Millisecond, want: 2},
		{name: "failures are retried after the backoff", fails: 3, want: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var calls atomic.Int32
			ran := make(chan int32, 16)
			wake := make(chan struct{}, 1)
			l := worker.Loop{Wake: wake, Period: time.Hour, Debounce: tc.debounce, MinBackoff: 5 * time.Millisecond,
				MaxBackoff: 20 * time.Millisecond, Log: quiet, Step: func(context.Context) error {
					n := calls.Add(1)
					ran <- n
					if n <= tc.fails {
						return errors.New("engine down")
					}
					return nil
				}}
			done := make(chan struct{})
			go func() { defer close(done); l.Run(ctx) }()
			timeout := time.After(5 * time.Second)
			for got := int32(0); got < tc.want; {
				select {
				case got = <-ran:
					if got == 1 && tc.wake {
						worker.Signal(wake)
						worker.Signal(wake) // a second signal must not block
					}
				case <-timeout:
					t.Fatalf("%d steps within 5 s, want %d", calls.Load(), tc.want)
				}
			}
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the loop did not stop with its context")
			}
		})
	}
}
