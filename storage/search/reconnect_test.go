package search

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

type countingIndex struct {
	node.Index
	n int
}

func (c *countingIndex) Count(context.Context) (int, error) { c.n++; return 42, nil }
func (c *countingIndex) Close() error                       { return nil }

func TestReconnectingOpensWhenTheEngineComesBack(t *testing.T) {
	up := false
	opens := 0
	engine := &countingIndex{}
	r := NewReconnecting(func(context.Context) (node.Index, error) {
		opens++
		if !up {
			return nil, errors.New("dial tcp 127.0.0.1:7700: connection refused")
		}
		return engine, nil
	}, time.Minute)
	clock := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r.now = func() time.Time { return clock }
	ctx := context.Background()

	if _, err := r.Count(ctx); !errors.Is(err, node.ErrUnavailable) {
		t.Fatalf("engine down: want ErrUnavailable (so the API answers 503), got %v", err)
	}
	up = true
	if _, err := r.Count(ctx); !errors.Is(err, node.ErrUnavailable) || opens != 1 {
		t.Fatalf("within the retry delay the open must not be retried: opens=%d err=%v", opens, err)
	}
	clock = clock.Add(2 * time.Minute)
	if n, err := r.Count(ctx); err != nil || n != 42 {
		t.Fatalf("after the delay the engine should be opened: %d, %v", n, err)
	}
	if _, err := r.Count(ctx); err != nil || opens != 2 || engine.n != 2 {
		t.Fatalf("an open engine is kept: opens=%d calls=%d err=%v", opens, engine.n, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Count(ctx); err == nil {
		t.Fatal("a closed index must refuse calls")
	}
}
