package federation

import (
	"context"
	"errors"
	"fmt"

	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"slices"
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
	if err := f.deliveries.EnqueueDeliveries(ctx, ds); err != nil {
		return err
	}
	wake(f.wakeDeliver)
	return nil
}

// backoff grows exponentially from the base (10 s) to 6 h, with jitter so
// that a hub coming back is not hit by every node at the same second.
func backoff(base time.Duration, attempts int) time.Duration {
	d := base << min(attempts-1, 11)
	d = min(d, 6*time.Hour)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Delivery lanes. Each inbox is an independent unit: its head activity
// (only the head, so an inbox gets its activities in order and backs off
// on its own) is POSTed as soon as a worker of its lane is free, and
// nothing waits for another inbox. Lanes keep inboxes that were slow or
// failing (suspect) and inboxes never delivered to (new: anyone may
// follow) from taking the workers of followers that answer (known). A
// POST still running after lateAfter leaves its lane's count (late), so
// slow inboxes never hold the workers healthy ones need; maxInFlight
// bounds everything at once.
const (
	laneKnown = iota
	laneNew
	laneSuspect
	laneLate
	// laneRecording is an inbox whose POST is over and whose outcome is
	// being recorded: it uses no worker but is still in flight.
	laneRecording = -1
)

// lateAfter is when a POST in flight stops counting against its lane: an
// inbox that answers takes far less.
const lateAfter = 500 * time.Millisecond

// flight is one POST in progress.
type flight struct {
	inbox string
	lane  int
}

// gatherOutcomes is how long runDelivery waits for more delivery outcomes
// before it records them and dispatches again.
const gatherOutcomes = 3 * time.Millisecond

// runDelivery dispatches due deliveries and records their outcomes as
// they come, until ctx ends. Deliveries in flight at shutdown are sent
// again at the next start: receivers drop duplicates by activity id.
func (f *Federation) runDelivery(ctx context.Context) {
	q := &deliveryQueue{inflight: map[string]*flight{}, results: make(chan result, 64), late: make(chan *flight, 64)}
	defer q.wg.Wait()
	retry := time.Second
	for ctx.Err() == nil {
		wait := 2 * time.Second
		if err := f.dispatch(ctx, q); err != nil && ctx.Err() == nil {
			f.log.Warn("delivery failed; will retry", "retry_in", retry, "err", err)
			wait, retry = retry, min(retry*2, time.Minute)
		} else {
			retry = time.Second
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-f.wakeDeliver:
			q.queued = true
		case <-timer.C:
		case fl := <-q.late:
			// All late POSTs at once: one dispatch for them, not one each.
			for more := true; more; {
				if q.inflight[fl.inbox] == fl && fl.lane != laneLate && fl.lane != laneRecording {
					q.running[fl.lane]--
					fl.lane = laneLate
					q.running[laneLate]++
				}
				select {
				case fl = <-q.late:
				default:
					more = false
				}
			}
		case r := <-q.results:
			// Gather the outcomes that arrive within a few milliseconds:
			// each batch costs a transaction, so one per outcome made a
			// fan-out slow (1,000 followers: 2.1 s; gathered, with the
			// peers cached: 1.1 s).
			batch := []result{r}
			gather := time.NewTimer(gatherOutcomes)
		drain:
			for len(batch) < 256 {
				select {
				case r := <-q.results:
					batch = append(batch, r)
				case <-gather.C:
					break drain
				case <-ctx.Done():
					break drain
				}
			}
			gather.Stop()
			// The freed workers get new inboxes before the outcomes are
			// recorded: their inboxes stay in flight (recording) until
			// then, so a queue read meanwhile cannot see a delivery just
			// sent as still due.
			for _, r := range batch {
				if fl := q.inflight[r.d.Inbox]; fl != nil && fl.lane != laneRecording {
					q.running[fl.lane]--
					fl.lane = laneRecording
				}
			}
			if err := f.dispatch(ctx, q); err != nil && ctx.Err() == nil {
				f.log.Warn("delivery failed; will retry", "err", err)
			}
			if err := f.recordBatch(context.WithoutCancel(ctx), q, batch); err != nil {
				f.log.Warn("delivery outcomes not recorded; will send again", "err", err)
			}
			for _, r := range batch {
				if fl := q.inflight[r.d.Inbox]; fl != nil && fl.lane == laneRecording {
					delete(q.inflight, r.d.Inbox)
				}
			}
		}
		timer.Stop()
	}
}

// deliveryQueue is runDelivery's bookkeeping, owned by its goroutine.
type deliveryQueue struct {
	inflight map[string]*flight
	// peers is the peers read at peersRead, byInbox the healthiest view
	// of each inbox (for lanes), actors the peers each inbox serves (for
	// recording outcomes).
	peers     []state.Peer
	byInbox   map[string]state.Peer
	actors    map[string][]int
	peersRead time.Time
	// lanes holds the due heads read at dueRead that are not dispatched
	// yet, per lane in dispatch order; queued says deliveries were queued
	// since.
	lanes   [3][]state.Delivery
	dueRead time.Time
	queued  bool
	running [4]int
	results chan result
	late    chan *flight
	wg      sync.WaitGroup
}

// peersAge and dueAge bound how old the dispatcher's views of the peers
// and of the queue heads may be: reading every peer and the whole queue
// after each batch of outcomes made a fan-out quadratic in the number of
// followers. The peers only choose lanes; the heads are read again as
// soon as the dispatcher has none left or deliveries are queued, so dueAge
// only delays retries (backed off by 10 s at least, jittered) and lane
// changes while a fan-out is under way.
const (
	peersAge = time.Second
	dueAge   = 5 * time.Second
)

// readPeers refreshes the peers' view.
func (f *Federation) readPeers(ctx context.Context, q *deliveryQueue) error {
	peers, err := f.peers.ListPeers(ctx)
	if err != nil {
		return err
	}
	q.peers = peers
	q.byInbox = make(map[string]state.Peer, 2*len(peers))
	q.actors = make(map[string][]int, 2*len(peers))
	for i, p := range peers {
		for _, in := range []string{p.Inbox, p.SharedInbox} {
			if in == "" {
				continue
			}
			q.actors[in] = append(q.actors[in], i)
			// A shared inbox is as healthy as its worst follower.
			if o, ok := q.byInbox[in]; !ok || p.Failures > o.Failures || (p.LastDelivery.IsZero() && p.Failures == o.Failures) {
				q.byInbox[in] = p
			}
		}
	}
	q.peersRead = time.Now()
	return nil
}

// readDue reads the due queue heads not in flight into the lanes.
func (f *Federation) readDue(ctx context.Context, q *deliveryQueue) error {
	due, err := f.deliveries.DueHeads(ctx, f.now())
	if err != nil {
		return err
	}
	// Newly queued deliveries may be for followers of the last second:
	// read the peers again then, or such a follower lands in the new
	// lane, behind every slow newcomer (a fan-out queues once, so this is
	// one read per activity, not one per outcome).
	fresh := q.queued
	q.queued, q.dueRead = false, time.Now()
	if q.byInbox == nil || fresh || time.Since(q.peersRead) > peersAge {
		if err := f.readPeers(ctx, q); err != nil {
			return err
		}
	}
	byInbox := q.byInbox
	var lanes [3][]state.Delivery
	for _, d := range due {
		if _, busy := q.inflight[d.Inbox]; busy {
			continue
		}
		p, known := byInbox[d.Inbox]
		switch {
		case d.Attempts > 0 || (known && p.Failures > 0):
			lanes[laneSuspect] = append(lanes[laneSuspect], d)
		case known && !p.LastDelivery.IsZero():
			lanes[laneKnown] = append(lanes[laneKnown], d)
		default:
			lanes[laneNew] = append(lanes[laneNew], d)
		}
	}
	// Among known followers, the most recently successful first: when
	// followers that answered until now all turn slow at once, the ones
	// still answering are not queued behind them for more than a round.
	// Ties (a round where all answered) in random order, so that no actor
	// id sorts itself ahead of the others.
	rand.Shuffle(len(lanes[laneKnown]), func(i, j int) {
		lanes[laneKnown][i], lanes[laneKnown][j] = lanes[laneKnown][j], lanes[laneKnown][i]
	})
	slices.SortStableFunc(lanes[laneKnown], func(a, b state.Delivery) int {
		return byInbox[b.Inbox].LastDelivery.Compare(byInbox[a.Inbox].LastDelivery)
	})
	q.lanes = lanes
	return nil
}

// dispatch starts a POST for each due inbox not in flight, as far as its
// lane has free workers: known followers first, then new ones, then
// suspect ones. It reads the queue heads again when it has none left,
// when deliveries were queued, or when its view is dueAge old.
func (f *Federation) dispatch(ctx context.Context, q *deliveryQueue) error {
	if q.queued || time.Since(q.dueRead) > dueAge || len(q.lanes[laneKnown])+len(q.lanes[laneNew])+len(q.lanes[laneSuspect]) == 0 {
		if err := f.readDue(ctx, q); err != nil {
			return err
		}
	}
	// Known followers may use every main worker; new ones leave a quarter
	// to them; suspect ones have their own quarter on top.
	quarter := max(1, f.workers/4)
	r := &q.running
	free := func(lane int) bool {
		if r[laneKnown]+r[laneNew]+r[laneSuspect]+r[laneLate] >= 16*f.workers {
			return false
		}
		switch lane {
		case laneKnown:
			return r[laneKnown]+r[laneNew] < f.workers
		case laneNew:
			return r[laneKnown]+r[laneNew] < f.workers && r[laneNew] < max(1, f.workers-quarter)
		}
		return r[laneSuspect] < quarter
	}
	for lane := range q.lanes {
		for len(q.lanes[lane]) > 0 && ctx.Err() == nil && free(lane) {
			d := q.lanes[lane][0]
			q.lanes[lane] = q.lanes[lane][1:]
			if _, busy := q.inflight[d.Inbox]; busy {
				continue
			}
			fl := &flight{inbox: d.Inbox, lane: lane}
			q.inflight[d.Inbox] = fl
			r[lane]++
			q.wg.Add(1)
			go func() {
				defer q.wg.Done()
				late := time.AfterFunc(lateAfter, func() {
					select {
					case q.late <- fl:
					case <-ctx.Done():
					}
				})
				res := result{d: d, err: f.deliverOne(ctx, d), sent: true}
				late.Stop()
				select {
				case q.results <- res:
				case <-ctx.Done():
				}
			}()
		}
	}
	return nil
}

// deliverOne POSTs one delivery within the per-delivery time limit: an
// inbox that takes longer counts as failed and backs off like a failing
// one.
func (f *Federation) deliverOne(ctx context.Context, d state.Delivery) error {
	pctx, cancel := context.WithTimeout(ctx, f.deliveryTimeout)
	defer cancel()
	err := f.post(pctx, d.Inbox, d.Body)
	if err != nil && ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("POST %s: no answer within %s", d.Inbox, f.deliveryTimeout)
	}
	return err
}

// recordBatch records outcomes with the dispatcher's view of the peers,
// read again first when an outcome is for an inbox it does not know (a
// follower of the last second, or none: a Reject).
func (f *Federation) recordBatch(ctx context.Context, q *deliveryQueue, results []result) error {
	for _, r := range results {
		if _, ok := q.actors[r.d.Inbox]; !ok || q.byInbox == nil {
			if err := f.readPeers(ctx, q); err != nil {
				return err
			}
			break
		}
	}
	return f.record(ctx, results, q.peers, q.actors)
}

type result struct {
	d    state.Delivery
	err  error
	sent bool
}

// record applies a round's outcomes: successes leave the queue and
// failures are rescheduled, and peers' delivery state is updated, in a few
// transactions for the whole round. actors lists, per inbox, the indexes
// in peers of the peers it serves.
func (f *Federation) record(ctx context.Context, results []result, peers []state.Peer, actors map[string][]int) error {
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
		if err := f.deliveries.UpdateDelivery(ctx, d); err != nil {
			return err
		}
	}
	if err := f.deliveries.DeleteDeliveries(ctx, done); err != nil {
		return err
	}
	byActor := map[string]error{}
	var ids []string
	for in := range outcome {
		for _, i := range actors[in] {
			p := peers[i]
			if _, ok := byActor[p.ActorID]; ok {
				continue
			}
			// A peer's own inbox speaks for it before its shared inbox.
			err, ok := outcome[p.Inbox]
			if !ok {
				err = outcome[p.SharedInbox]
			}
			byActor[p.ActorID] = err
			ids = append(ids, p.ActorID)
		}
	}
	slices.Sort(ids) // in key order, whatever the map's
	now := f.now().UTC()
	return f.peers.UpdatePeers(ctx, ids, func(p *state.Peer) {
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
	peers, err := f.peers.ListPeers(ctx)
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
