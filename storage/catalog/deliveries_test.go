package catalog

import (
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/federation/state"
)

func bodyCount(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	s.db.View(func(tx *bbolt.Tx) error { n = tx.Bucket(bucketDeliveryBodies).Stats().KeyN; return nil })
	return n
}

// TestDeliveryQueue: one activity fanned out to many inboxes stores its
// body once; the heads are the oldest entry per inbox when due; bodies go
// with their last delivery.
func TestDeliveryQueue(t *testing.T) {
	s := openTemp(t)
	now := base
	create := []byte(`{"type":"Create"}`)
	var fan []state.Delivery
	for _, in := range []string{"https://a/inbox", "https://b/inbox", "https://c/inbox"} {
		fan = append(fan, state.Delivery{Inbox: in, Body: create, NextAt: now, Created: now})
	}
	if err := s.EnqueueDeliveries(ctx, fan); err != nil {
		t.Fatal(err)
	}
	update := []byte(`{"type":"Update"}`)
	if err := s.EnqueueDeliveries(ctx, []state.Delivery{{Inbox: "https://a/inbox", Body: update, NextAt: now, Created: now}}); err != nil {
		t.Fatal(err)
	}
	if n := bodyCount(t, s); n != 2 {
		t.Fatalf("%d bodies stored for 2 activities", n)
	}
	heads, err := s.DueHeads(ctx, now)
	if err != nil || len(heads) != 3 {
		t.Fatalf("heads: %d, %v; want one per inbox", len(heads), err)
	}
	for _, h := range heads {
		if string(h.Body) != string(create) {
			t.Fatalf("head of %s is %s, want the older Create first", h.Inbox, h.Body)
		}
	}
	// b backs off: it is no longer due, a and c still are.
	b := heads[1]
	b.Attempts, b.NextAt = 1, now.Add(time.Hour)
	if err := s.UpdateDelivery(ctx, b); err != nil {
		t.Fatal(err)
	}
	if heads, _ = s.DueHeads(ctx, now); len(heads) != 2 {
		t.Fatalf("after b's backoff %d heads due, want 2", len(heads))
	}
	all, _ := s.Deliveries(ctx, 0)
	var seqs []uint64
	for _, d := range all {
		if string(d.Body) == string(create) {
			seqs = append(seqs, d.Seq)
		}
	}
	if err := s.DeleteDeliveries(ctx, seqs[:2]); err != nil {
		t.Fatal(err)
	}
	if n := bodyCount(t, s); n != 2 {
		t.Fatalf("a body still needed by one delivery was dropped: %d bodies", n)
	}
	if err := s.DeleteDeliveries(ctx, seqs[2:]); err != nil {
		t.Fatal(err)
	}
	if n := bodyCount(t, s); n != 1 {
		t.Fatalf("the Create body should go with its last delivery: %d bodies", n)
	}
	if heads, _ = s.DueHeads(ctx, now); len(heads) != 1 || string(heads[0].Body) != string(update) {
		t.Fatalf("a's next head should be its Update: %+v", heads)
	}
}

// TestSeenIDsExpire: a replayed id is refused within the window, and ids
// older than it are forgotten as activities are processed.
func TestSeenIDsExpire(t *testing.T) {
	s := openTemp(t)
	old := time.Now().Add(-seenFor - time.Hour)
	if fresh, err := s.EnqueueInbox(ctx, state.InboxItem{ID: "https://a/1", Received: old}); err != nil || !fresh {
		t.Fatal(fresh, err)
	}
	if fresh, _ := s.EnqueueInbox(ctx, state.InboxItem{ID: "https://a/1", Received: time.Now()}); fresh {
		t.Fatal("a replay within the window must be refused")
	}
	if fresh, _ := s.EnqueueInbox(ctx, state.InboxItem{ID: "https://a/2", Received: time.Now()}); !fresh {
		t.Fatal("a new id must be accepted")
	}
	items, _ := s.InboxItems(ctx, 10)
	for _, it := range items {
		if err := s.InboxDone(ctx, it.Seq); err != nil {
			t.Fatal(err)
		}
	}
	if fresh, _ := s.EnqueueInbox(ctx, state.InboxItem{ID: "https://a/1", Received: time.Now()}); !fresh {
		t.Fatal("an id older than the window should have been forgotten")
	}
	if fresh, _ := s.EnqueueInbox(ctx, state.InboxItem{ID: "https://a/2", Received: time.Now()}); fresh {
		t.Fatal("a recent id must still be remembered")
	}
}
