package federation

import (
	"context"

	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	crand "crypto/rand"

	"github.com/communs-numerique/communs/federation/state"
)

// giveUpAfter is how long a delivery is retried before it is dropped: a
// hub down for a long weekend still gets everything.
const giveUpAfter = 7 * 24 * time.Hour

func lower(s string) string { return strings.ToLower(s) }

func newID() string {
	var b [12]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// enqueue records an activity for each inbox, in the order given; inboxes
// are deduplicated (followers sharing a shared inbox get one copy).
func (f *Federation) enqueue(ctx context.Context, act map[string]any, inboxes []string) error {
	body, err := json.Marshal(act)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var ds []state.Delivery
	now := f.now().UTC()
	for _, in := range inboxes {
		if in == "" || seen[in] {
			continue
		}
		seen[in] = true
		ds = append(ds, state.Delivery{Inbox: in, Body: body, NextAt: now, Created: now})
	}
	if len(ds) == 0 {
		return nil
	}
	if err := f.store.EnqueueDeliveries(ctx, ds); err != nil {
		return err
	}
	wake(f.wakeDeliver)
	return nil
}

func (f *Federation) runDelivery(ctx context.Context) {
	f.loop(ctx, "delivery", f.wakeDeliver, 2*time.Second, f.deliverDue)
}

// backoff grows exponentially from the base (10 s) to 6 h, with jitter so
// that a hub coming back is not hit by every node at the same second.
func backoff(base time.Duration, attempts int) time.Duration {
	d := base << min(attempts-1, 11)
	d = min(d, 6*time.Hour)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// deliverDue sends, for each inbox, the oldest waiting activity when it is
// due. Taking only the head per inbox keeps each inbox's activities in
// order (an Update never overtakes its Create) and makes backoff per inbox:
// a dead peer does not delay anyone else.
func (f *Federation) deliverDue(ctx context.Context) error {
	for {
		due, err := f.store.DueHeads(ctx, f.now())
		if err != nil {
			return err
		}
		if len(due) == 0 {
			return nil
		}
		peers, err := f.store.ListPeers(ctx)
		if err != nil {
			return err
		}
		results := make([]result, len(due))
		sem := make(chan struct{}, f.workers)
		var wg sync.WaitGroup
		for i, d := range due {
			if ctx.Err() != nil {
				break
			}
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				pctx, cancel := context.WithTimeout(ctx, time.Minute)
				results[i] = result{d: d, err: f.post(pctx, d.Inbox, d.Body), sent: true}
				cancel()
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err() // unrecorded results are sent again: receivers drop duplicates by id
		}
		if err := f.record(context.WithoutCancel(ctx), results, peers); err != nil {
			return err
		}
	}
}

type result struct {
	d    state.Delivery
	err  error
	sent bool
}

// record applies a round's outcomes: successes leave the queue and
// failures are rescheduled, and peers' delivery state is updated, in a few
// transactions for the whole round.
func (f *Federation) record(ctx context.Context, results []result, peers []state.Peer) error {
	var done []uint64
	outcome := map[string]error{}
	for _, r := range results {
		if !r.sent {
			continue
		}
		d := r.d
		outcome[d.Inbox] = r.err
		if r.err == nil {
			done = append(done, d.Seq)
			continue
		}
		d.Attempts++
		d.LastErr = r.err.Error()
		if permanent(r.err) || f.now().Sub(d.Created) > giveUpAfter {
			f.log.Warn("delivery dropped", "inbox", d.Inbox, "attempts", d.Attempts, "err", r.err)
			done = append(done, d.Seq)
			continue
		}
		d.NextAt = f.now().Add(backoff(f.retryBase, d.Attempts))
		f.log.Info("delivery failed; will retry", "inbox", d.Inbox, "attempts", d.Attempts, "next", d.NextAt.Format(time.RFC3339), "err", r.err)
		if err := f.store.UpdateDelivery(ctx, d); err != nil {
			return err
		}
	}
	if err := f.store.DeleteDeliveries(ctx, done); err != nil {
		return err
	}
	byActor := map[string]error{}
	var ids []string
	for _, p := range peers {
		err, ok := outcome[p.Inbox]
		if !ok {
			err, ok = outcome[p.SharedInbox]
		}
		if ok {
			byActor[p.ActorID] = err
			ids = append(ids, p.ActorID)
		}
	}
	now := f.now().UTC()
	return f.store.UpdatePeers(ctx, ids, func(p *state.Peer) {
		if err := byActor[p.ActorID]; err == nil {
			p.LastDelivery, p.LastError, p.Failures = now, "", 0
		} else {
			p.LastError, p.Failures = err.Error(), p.Failures+1
		}
	})
}

// followerInboxes lists where an activity for all followers goes: shared
// inboxes when the follower's server has one.
func (f *Federation) followerInboxes(ctx context.Context) ([]string, error) {
	peers, err := f.store.ListPeers(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range peers {
		if p.Follower != state.StateAccepted {
			continue
		}
		if p.SharedInbox != "" {
			out = append(out, p.SharedInbox)
		} else {
			out = append(out, p.Inbox)
		}
	}
	return out, nil
}
