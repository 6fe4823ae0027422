// Package worker holds the loop every background worker of a node runs:
// do the work when woken or every period, back off while it fails, stop
// with the context. The search indexer and federation's inbox and
// publisher share it, so a fix to one (a lost wake-up, a backoff that
// never resets) is a fix to all.
package worker

import (
	"context"
	"log/slog"
	"time"
)

// Loop describes one background worker.
type Loop struct {
	// Step does the work; an error means "try again after the backoff".
	Step func(context.Context) error
	// Wake runs Step now instead of at the end of the period (nil: only
	// the period).
	Wake <-chan struct{}
	// Period is the wait between steps when nothing wakes the loop.
	Period time.Duration
	// Debounce lets a burst of wake-ups gather after the first one, so
	// that one step handles them together (0: no wait).
	Debounce time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed step; it
	// doubles at each failure in a row (defaults 1 s and 1 min).
	MinBackoff, MaxBackoff time.Duration
	// Log receives a warning for each failed step, with FailMsg as its
	// message ("inbox processing failed; will retry").
	Log     *slog.Logger
	FailMsg string
}

// Run runs the loop until ctx ends.
func (l Loop) Run(ctx context.Context) {
	if l.MinBackoff <= 0 {
		l.MinBackoff = time.Second
	}
	if l.MaxBackoff < l.MinBackoff {
		l.MaxBackoff = max(time.Minute, l.MinBackoff)
	}
	if l.Log == nil {
		l.Log = slog.Default()
	}
	if l.FailMsg == "" {
		l.FailMsg = "background work failed; will retry"
	}
	backoff := l.MinBackoff
	for ctx.Err() == nil {
		wait := l.Period
		if err := l.Step(ctx); err != nil && ctx.Err() == nil {
			l.Log.Warn(l.FailMsg, "retry_in", backoff, "err", err)
			wait = backoff
			backoff = min(backoff*2, l.MaxBackoff)
		} else {
			backoff = l.MinBackoff
		}
		if !l.sleep(ctx, wait) {
			return
		}
	}
}

// sleep waits for a wake-up (then the debounce), the wait or the end of
// ctx; false when ctx ended.
func (l Loop) sleep(ctx context.Context, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-l.Wake:
		if l.Debounce > 0 {
			gather := time.NewTimer(l.Debounce)
			defer gather.Stop()
			select {
			case <-ctx.Done():
				return false
			case <-gather.C:
			}
		}
	case <-timer.C:
	}
	return true
}

// Signal wakes a loop without blocking: a wake-up already pending is
// enough, since the step it starts sees everything that happened before.
// The channel must have a buffer of one.
func Signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
