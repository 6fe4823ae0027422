package federation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
)

// maxBackfillPages bounds how far a backfill pages: 50 per page, so a hub
// of up to 100,000 resources.
const maxBackfillPages = 2000

// startBackfill pages a followed hub's outbox in the background, from
// where its record says the last backfill stopped (BackfillNext).
func (f *Federation) startBackfill(p state.Peer) {
	if _, running := f.backfills.LoadOrStore(p.ActorID, struct{}{}); running {
		return
	}
	f.background(func(ctx context.Context) {
		defer f.backfills.Delete(p.ActorID)
		ctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		n, err := f.backfill(ctx, p.ActorID, true)
		if err != nil {
			// Its record keeps the page to read next: the next start
			// resumes it.
			f.log.Warn("backfill stopped", "actor", p.ActorID, "imported", n, "err", err)
			return
		}
		f.log.Info("backfill done", "actor", p.ActorID, "resources", n)
	})
}

// resumeBackfills restarts the backfills a stop cut short.
func (f *Federation) resumeBackfills(ctx context.Context) {
	peers, err := f.peers.ListPeers(ctx)
	if err != nil {
		f.log.Warn("unfinished backfills not resumed: peers unreadable", "err", err)
		return
	}
	for _, p := range peers {
		if p.BackfillNext != "" && p.Following == state.StateAccepted {
			f.log.Info("resuming an unfinished backfill", "actor", p.ActorID, "page", p.BackfillNext)
			f.startBackfill(p)
		}
	}
}

// Backfill imports every current resource of a followed hub from its
// outbox. Saving a resource twice is harmless, so running it again only
// refreshes what changed.
func (f *Federation) Backfill(ctx context.Context, actorID string) (int, error) {
	return f.backfill(ctx, actorID, false)
}

// backfill pages the outbox from its first page, or, with resume, from the
// page the peer's record names. Each save moves that mark, so a stop loses
// at most one save's pages of work (backfillGroup).
func (f *Federation) backfill(ctx context.Context, actorID string, resume bool) (int, error) {
	p, err := f.peers.GetPeer(ctx, actorID)
	if err != nil {
		return 0, err
	}
	if p.Following != state.StateAccepted {
		return 0, fmt.Errorf("backfill %s: this hub's follow is %q, not accepted", actorID, p.Following)
	}
	if p.Outbox == "" || hostOf(p.Outbox) != p.Host {
		return 0, fmt.Errorf("backfill %s: no outbox on its host", actorID)
	}
	next := ""
	// whole is whether this run reads the outbox from its first page:
	// only then does it know every resource the origin still has.
	whole := true
	if resume && p.BackfillNext != "" && p.BackfillNext != p.Outbox {
		next, whole = p.BackfillNext, false
	} else {
		var coll struct {
			First any `json:"first"`
		}
		if err := f.getJSON(ctx, p.Outbox, &coll); err != nil {
			return 0, err
		}
		next = idOf(coll.First)
	}
	n := 0
	listed := map[string]bool{} // origin ids the outbox still has
	started := f.now()
	// The pages are read ahead of the saves (the next page's address is
	// in the page before, so the reads themselves follow one another):
	// fetching and parsing a page overlaps saving the one before, which
	// took half of a backfill's time when each waited for the other.
	fctx, stop := context.WithCancel(ctx)
	pages := make(chan backfillPage, backfillAhead)
	fetched := make(chan struct{})
	go func() {
		defer close(fetched)
		f.fetchPages(fctx, p, next, pages)
	}()
	// The reader ends before the backfill returns: nothing of it outlives
	// a stop of the node.
	defer func() { stop(); <-fetched }()
	for pg := range pages {
		// The pages already read wait in pages: they are saved with this
		// one, in one transaction, when the saves fall behind the reads.
		group := readyPages(pg, pages, backfillGroup)
		// An unfollow or a block during a long backfill stops it: its
		// copies were just removed and must not come back. Checked before
		// each group of pages is saved, whatever was read ahead.
		if cur, err := f.peers.GetPeer(ctx, actorID); err != nil || cur.Following != state.StateAccepted {
			return n, fmt.Errorf("backfill %s: stopped, this hub no longer follows it", actorID)
		}
		if blocked, _ := f.blocks.Blocked(ctx, hostname(p.Host)); blocked {
			return n, fmt.Errorf("backfill %s: stopped, its domain is blocked", actorID)
		}
		// An error ends the group (the reader sends nothing after it): the
		// pages read before it are saved first.
		var pageErr error
		if last := group[len(group)-1]; last.err != nil {
			pageErr, group = last.err, group[:len(group)-1]
		}
		if len(group) == 0 {
			return n, pageErr
		}
		var items []node.RemoteItem
		for _, g := range group {
			items = append(items, g.items...)
		}
		// One transaction per page, or per group of pages: a hub of
		// 10,000 kits arrives in at most 200 disk syncs, not 10,000.
		errs, err := f.saveCopies(ctx, p, items)
		if err != nil {
			return n, err
		}
		for i, e := range errs {
			if errors.Is(e, errDropped) {
				continue
			}
			if e != nil {
				f.log.Info("backfill: resource skipped", "object", items[i].Resource.Origin, "err", e)
				continue
			}
			n++
		}
		for _, it := range items {
			listed[it.Resource.Origin] = true
		}
		for _, g := range group {
			for _, obj := range g.collections {
				listed[idOf(obj)] = true
				if err := f.saveCollection(ctx, p, obj); err != nil {
					f.log.Info("backfill: collection skipped", "object", idOf(obj), "err", err)
				}
			}
		}
		next = group[len(group)-1].next
		if next != "" {
			if err := f.markBackfill(ctx, p.ActorID, next, false); err != nil {
				return n, err
			}
		}
		if pageErr != nil {
			return n, pageErr
		}
	}
	if err := ctx.Err(); err != nil {
		return n, err
	}
	if next == "" && !whole {
		f.log.Info("resumed backfill done; copies its origin deleted meanwhile go at the next full backfill", "actor", actorID)
	}
	if next == "" && whole {
		// The whole outbox was read: a copy it no longer lists was deleted
		// at the origin while this hub was not following (or missed the
		// Delete), so it goes too.
		if err := f.dropUnlisted(ctx, p, listed, started); err != nil {
			return n, err
		}
		if err := f.dropUnlistedCollections(ctx, p, listed, started); err != nil {
			return n, err
		}
	}
	return n, f.markBackfill(ctx, p.ActorID, "", true)
}

// markBackfill records the page a backfill reads next, or that it is done.
// A peer no longer followed (an unfollow meanwhile) keeps no mark.
func (f *Federation) markBackfill(ctx context.Context, actorID, next string, done bool) error {
	now := f.now().UTC()
	return f.peers.UpdatePeers(ctx, []string{actorID}, func(p *state.Peer) {
		p.BackfillNext = ""
		if p.Following != state.StateAccepted {
			return
		}
		p.BackfillNext = next
		if done {
			p.Backfilled = now
		}
	})
}

// dropUnlisted removes the copies of a peer's resources that its outbox no
// longer lists. Copies that arrived after the backfill began are kept: a
// resource created meanwhile came by its own Create after the pages that
// would list it were read.
func (f *Federation) dropUnlisted(ctx context.Context, p state.Peer, listed map[string]bool, started time.Time) error {
	prefix := originPrefix(p)
	var stale []node.Resource
	cursor := ""
	for {
		rs, next, err := f.svc.List(ctx, node.ListOptions{After: cursor, Limit: 200, Origin: "remote"})
		if err != nil {
			return err
		}
		for _, r := range rs {
			if strings.HasPrefix(r.Origin, prefix) && !listed[r.Origin] && r.Created.Before(started) {
				stale = append(stale, r)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	for _, r := range stale {
		if err := f.svc.DeleteRemote(ctx, r.ID, r.Origin); err != nil {
			return err
		}
		f.log.Info("backfill: copy removed, its origin no longer has it", "object", r.Origin)
	}
	return nil
}

// backfillAhead is how many outbox pages a backfill reads ahead of its
// saves: enough to keep a read under way while a page is saved, few
// enough that an unfollow stops it within a few pages' reads.
const backfillAhead = 4

// backfillGroup is how many pages already read a backfill saves in one
// transaction: a stop loses at most that many pages of work.
const backfillGroup = backfillAhead

// readyPages is first and the pages that wait behind it in pages, up to
// max in all, stopping after a page that ends the reading (an error).
func readyPages(first backfillPage, pages <-chan backfillPage, max int) []backfillPage {
	group := []backfillPage{first}
	for len(group) < max && group[len(group)-1].err == nil {
		select {
		case pg, ok := <-pages:
			if !ok {
				return group
			}
			group = append(group, pg)
		default:
			return group
		}
	}
	return group
}

// backfillPage is one outbox page read and parsed, or the error that
// ended the reading; next is the page after it ("" for the last).
type backfillPage struct {
	items []node.RemoteItem
	// collections are the page's collection objects (the outbox lists
	// them after every resource).
	collections []map[string]any
	next        string
	err         error
}

// fetchPages reads a peer's outbox pages from next on, in order, and
// sends each parsed; it closes pages when the outbox ends, after an error
// (sent last), or when ctx ends. Only objects on the peer's host are kept.
func (f *Federation) fetchPages(ctx context.Context, p state.Peer, next string, pages chan<- backfillPage) {
	defer close(pages)
	send := func(pg backfillPage) bool {
		select {
		case pages <- pg:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// cur is the GET of page next, asked for ahead or not (outboxahead.go).
	var cur *pageFetch
	defer func() {
		if cur != nil {
			cur.close()
		}
	}()
	for page := 0; next != "" && page < maxBackfillPages; page++ {
		if blocked, _ := f.blocks.Blocked(ctx, hostname(p.Host)); blocked {
			send(backfillPage{err: fmt.Errorf("backfill %s: stopped, its domain is blocked", p.ActorID)})
			return
		}
		if hostOf(next) != p.Host {
			send(backfillPage{err: fmt.Errorf("backfill %s: outbox page %s on another host", p.ActorID, next)})
			return
		}
		if cur != nil && cur.url != next {
			// The page asked for ahead is not the one this page names.
			cur.close()
			cur = nil
		}
		if cur == nil {
			cur = f.startPage(ctx, next)
		}
		resp, err := cur.wait()
		if err != nil {
			send(backfillPage{err: err})
			return
		}
		var ahead *pageFetch
		if link := nextLink(resp.Header); link != "" && hostOf(link) == p.Host && page+1 < maxBackfillPages {
			ahead = f.startPage(ctx, link)
		}
		var raw struct {
			Next         any              `json:"next"`
			OrderedItems []map[string]any `json:"orderedItems"`
		}
		err = readJSON(resp, next, &raw)
		cur.close()
		cur = ahead
		if err != nil {
			send(backfillPage{err: err})
			return
		}
		pg := backfillPage{next: idOf(raw.Next)}
		for _, item := range raw.OrderedItems {
			if t, _ := item["type"].(string); t != "Create" && t != "Update" {
				continue
			}
			obj, ok := item["object"].(map[string]any)
			if !ok || hostOf(idOf(obj)) != p.Host {
				continue
			}
			if isCollectionObject(obj) {
				pg.collections = append(pg.collections, obj)
				continue
			}
			r, files, err := parseResource(obj)
			if err != nil {
				f.log.Info("backfill: resource skipped", "object", idOf(obj), "err", err)
				continue
			}
			pg.items = append(pg.items, node.RemoteItem{Resource: r, Files: files, LegacyID: node.LegacyRemoteID(r.Origin, objectSlug(obj))})
		}
		if !send(pg) {
			return
		}
		next = pg.next
	}
}
