package oaipmh

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/communs-numerique/communs/node"
)

const (
	phaseLive    = "l"
	phaseDeleted = "d"
)

// filter is what a list request selects: datestamps between from and until
// (inclusive, seconds) and membership of a set.
type filter struct {
	from, until *time.Time
	set         string
}

func (f filter) inRange(t time.Time) bool {
	t = t.UTC().Truncate(time.Second)
	return (f.from == nil || !t.Before(*f.from)) && (f.until == nil || !t.After(*f.until))
}

// item is one record of a list: a live local resource or a deletion.
type item struct {
	res     *node.Resource
	deleted *node.Change
}

// position is where a scan resumes.
type position struct {
	phase string
	after string // catalog List cursor (phase l)
	seq   uint64 // last change read (phase d)
}

// Paging. A page holds pageSize records; the scan reads one more match to
// know where the next page starts, so a resumption token never leads to an
// empty page (the protocol wants at least one record in each). A page costs
// reading the catalog up to that next match: bounded memory, and time that
// grows only with how sparse the selection is, never with how deep the
// harvester has paged.
var (
	pageSize    = 100
	countBudget = 50000
	// listBatch bounds the resources decoded at once: a description may
	// hold 50,000 characters, so 250 keep a sparse scan near 12 MiB.
	listBatch   = 250
	changeBatch = 1000
)

// datestamp of a live resource: its last change, to the second, in UTC.
func datestamp(r *node.Resource) time.Time { return r.Updated.UTC().Truncate(time.Second) }

func inSet(r *node.Resource, set string) bool {
	switch set {
	case "":
		return true
	case "kind":
		return r.Kind != ""
	case "theme":
		return len(r.Themes) > 0
	}
	if k, ok := cutPrefix(set, "kind:"); ok {
		return r.Kind == k
	}
	if t, ok := cutPrefix(set, "theme:"); ok {
		return slices.Contains(r.Themes, t)
	}
	return false
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) > len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// knownSet reports whether a setSpec names one of the repository's sets.
func knownSet(set string) bool {
	if set == "kind" || set == "theme" {
		return true
	}
	if k, ok := cutPrefix(set, "kind:"); ok {
		return slices.Contains(node.Kinds, k)
	}
	if t, ok := cutPrefix(set, "theme:"); ok {
		return slices.Contains(node.Themes, t)
	}
	return false
}

// errBadPosition means the catalog refused the cursor a token carried.
var errBadPosition = errors.New("position refused by the catalog")

// scan reads up to limit records matching f from pos. When more remain it
// returns the position just before the next one and more=true.
func (h *Handler) scan(ctx context.Context, f filter, pos position, limit int) (out []item, next position, more bool, err error) {
	if pos.phase == phaseLive {
		// The first read asks for one page and the look-ahead; a sparse
		// selection doubles it up to listBatch.
		size := min(limit+1, listBatch)
		for {
			batch, after, err := h.cat.List(ctx, node.ListOptions{After: pos.after, Limit: size, Origin: "local"})
			if err != nil {
				if errors.Is(err, node.ErrInvalid) {
					return nil, pos, false, errBadPosition
				}
				return nil, pos, false, fmt.Errorf("list local resources: %w", err)
			}
			for i := range batch {
				r := &batch[i]
				if !r.Local() || !f.inRange(datestamp(r)) || !inSet(r, f.set) {
					continue
				}
				if len(out) < limit {
					// A copy, so the page does not keep whole batches alive.
					rc := *r
					out = append(out, item{res: &rc})
					continue
				}
				// One match past the page: the next page starts right
				// before it, at the catalog cursor after item i-1.
				if i == 0 {
					return out, pos, true, nil
				}
				_, at, err := h.cat.List(ctx, node.ListOptions{After: pos.after, Limit: i, Origin: "local"})
				if err != nil {
					return nil, pos, false, fmt.Errorf("list local resources: %w", err)
				}
				return out, position{phase: phaseLive, after: at}, true, nil
			}
			if after == "" {
				break
			}
			pos.after = after
			size = min(size*2, listBatch)
		}
		pos = position{phase: phaseDeleted}
	}
	// Deletions come from the change feed. A set selects none: a deleted
	// resource's kind and themes are gone with it.
	if f.set != "" {
		return out, pos, false, nil
	}
	dels, err := h.deletions(ctx)
	if err != nil {
		return nil, pos, false, err
	}
	for {
		changes, err := h.cat.Changes(ctx, pos.seq, changeBatch)
		if err != nil {
			return nil, pos, false, fmt.Errorf("read change feed: %w", err)
		}
		if len(changes) == 0 {
			return out, pos, false, nil
		}
		for i := range changes {
			ch := &changes[i]
			ok, err := h.isDeletion(ctx, ch, f, dels)
			if err != nil {
				return nil, pos, false, err
			}
			if ok {
				if len(out) == limit {
					return out, position{phase: phaseDeleted, seq: ch.Seq - 1}, true, nil
				}
				out = append(out, item{deleted: ch})
			}
			pos.seq = ch.Seq
		}
	}
}

// isDeletion tells whether a change is a deleted record in range: the
// newest change of its id. A resource deleted, re-created and deleted again
// is listed once, at its last deletion.
func (h *Handler) isDeletion(ctx context.Context, ch *node.Change, f filter, d *deletedIDs) (bool, error) {
	if !ch.Deleted || ch.Collection != "" || !f.inRange(ch.At) {
		return false, nil
	}
	if ch.Seq <= d.seq {
		last, ok := d.last[ch.ResourceID]
		return ok && last.Seq == ch.Seq, nil
	}
	// Written after the index was built: ask the catalog.
	_, err := h.cat.Get(ctx, ch.ResourceID)
	switch {
	case errors.Is(err, node.ErrNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("resource %q: %w", ch.ResourceID, err)
	}
	return false, nil
}

// count returns the size of the complete list, or false when counting
// would read more than countBudget entries.
func (h *Handler) count(ctx context.Context, f filter) (int, bool, error) {
	n := 0
	pos := position{phase: phaseLive}
	read := 0
	for {
		batch, next, err := h.scanCount(ctx, f, pos)
		if err != nil {
			return 0, false, err
		}
		n += batch.matched
		read += batch.read
		if next.phase == "" {
			return n, true, nil
		}
		if read >= countBudget {
			return 0, false, nil
		}
		pos = next
	}
}

type counted struct{ matched, read int }

// scanCount reads one batch for count; a zero next.phase means the end.
func (h *Handler) scanCount(ctx context.Context, f filter, pos position) (counted, position, error) {
	var c counted
	if pos.phase == phaseLive {
		batch, next, err := h.cat.List(ctx, node.ListOptions{After: pos.after, Limit: listBatch, Origin: "local"})
		if err != nil {
			return c, pos, fmt.Errorf("list local resources: %w", err)
		}
		for i := range batch {
			c.read++
			if r := &batch[i]; r.Local() && f.inRange(datestamp(r)) && inSet(r, f.set) {
				c.matched++
			}
		}
		if next == "" {
			if f.set != "" {
				return c, position{}, nil
			}
			return c, position{phase: phaseDeleted}, nil
		}
		return c, position{phase: phaseLive, after: next}, nil
	}
	dels, err := h.deletions(ctx)
	if err != nil {
		return c, pos, err
	}
	changes, err := h.cat.Changes(ctx, pos.seq, changeBatch)
	if err != nil {
		return c, pos, fmt.Errorf("read change feed: %w", err)
	}
	if len(changes) == 0 {
		return c, position{}, nil
	}
	for i := range changes {
		ch := &changes[i]
		c.read++
		pos.seq = ch.Seq
		ok, err := h.isDeletion(ctx, ch, f, dels)
		if err != nil {
			return c, pos, err
		}
		if ok {
			c.matched++
		}
	}
	return c, pos, nil
}

// deletedIDs holds, for one state of the change feed (its last sequence),
// the ids whose last change is a deletion. GetRecord of an unknown id
// would otherwise read the whole feed each time; this reads it once per
// catalog write, and keeps only deleted ids.
type deletedIDs struct {
	seq  uint64
	last map[string]node.Change
}

// deletions returns the index of deleted ids for the feed's current state,
// building it when the feed moved.
func (h *Handler) deletions(ctx context.Context) (*deletedIDs, error) {
	seq, err := h.cat.LastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("read change feed: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.deleted != nil && h.deleted.seq == seq {
		return h.deleted, nil
	}
	d := &deletedIDs{seq: seq, last: map[string]node.Change{}}
	var after uint64
	for after < seq {
		changes, err := h.cat.Changes(ctx, after, changeBatch)
		if err != nil {
			return nil, fmt.Errorf("read change feed: %w", err)
		}
		if len(changes) == 0 {
			break
		}
		for _, c := range changes {
			if c.Seq > seq {
				break // written since LastSeq: left to the next index
			}
			switch {
			case c.Collection != "": // a collection's change: not a record
			case c.Deleted:
				d.last[c.ResourceID] = c
			default:
				delete(d.last, c.ResourceID)
			}
			after = c.Seq
		}
		if changes[len(changes)-1].Seq > seq {
			break
		}
	}
	h.deleted = d
	return d, nil
}

// lastDeletion returns the deletion of id when it is the newest change of
// that id in the feed (GetRecord of a deleted record), else nil.
func (h *Handler) lastDeletion(ctx context.Context, id string) (*node.Change, error) {
	d, err := h.deletions(ctx)
	if err != nil {
		return nil, err
	}
	if c, ok := d.last[id]; ok {
		return &c, nil
	}
	return nil, nil
}

// earliest is a lower bound of every datestamp: the first change of the
// feed, which every write appends to, to the day.
func (h *Handler) earliest(ctx context.Context) time.Time {
	changes, err := h.cat.Changes(ctx, 0, 1)
	if err != nil || len(changes) == 0 {
		return h.now().UTC().Truncate(24 * time.Hour)
	}
	t := changes[0].At.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
