package federation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/communs-numerique/communs/node"
)

// feedCursor names the publisher's position in the catalog's change feed.
const feedCursor = "federation"

func (f *Federation) runPublisher(ctx context.Context) {
	f.loop(ctx, "publishing changes", f.wakeFeed, 5*time.Second, f.publishChanges)
}

// publishChanges turns each change of a local resource into a Create,
// Update or Delete for the followers. The cursor moves after the
// activities are queued: a crash in between re-queues them, and receivers
// deduplicate by activity id... which differs, so they apply it twice,
// harmlessly (an Update of the same state).
func (f *Federation) publishChanges(ctx context.Context) error {
	for {
		after, err := f.feed.Cursor(ctx, feedCursor)
		if err != nil {
			return err
		}
		changes, err := f.feed.Changes(ctx, after, 200)
		if err != nil || len(changes) == 0 {
			return err
		}
		inboxes, err := f.followerInboxes(ctx)
		if err != nil {
			return err
		}
		// The cursor is written after each change that sent something,
		// and once for the changes that sent nothing (the copies a
		// backfill saves: 100,000 of them were 100,000 disk writes).
		// Looking at those again after a crash sends nothing either.
		var unsaved uint64
		for _, ch := range changes {
			sent, err := f.publishChange(ctx, ch, inboxes)
			if err != nil {
				return err
			}
			if !sent {
				unsaved = ch.Seq
				continue
			}
			if err := f.feed.SetCursor(context.WithoutCancel(ctx), feedCursor, ch.Seq); err != nil {
				return err
			}
			unsaved = 0
		}
		if unsaved != 0 {
			if err := f.feed.SetCursor(context.WithoutCancel(ctx), feedCursor, unsaved); err != nil {
				return err
			}
		}
	}
}

func (f *Federation) publishChange(ctx context.Context, ch node.Change, inboxes []string) (bool, error) {
	if ch.Collection != "" {
		return f.publishCollectionChange(ctx, ch, inboxes)
	}
	announced, err := f.announced.Announced(ctx, ch.ResourceID)
	if err != nil {
		return false, err
	}
	r, err := f.svc.Get(ctx, ch.ResourceID)
	if errors.Is(err, node.ErrNotFound) {
		if !announced {
			return false, nil
		}
		objectID := f.urls.object(ch.ResourceID)
		tomb := map[string]any{"id": objectID, "type": "Tombstone", "slug": ch.ResourceID}
		act, err := activity("Delete", f.urls.activity("delete", newID()), f.urls.actor(), tomb, []string{asPublic}, []string{f.urls.followers()})
		if err != nil {
			return false, err
		}
		if err := f.enqueue(ctx, act, f.adaptationInboxes(ctx, ch.ResourceID, nil, inboxes)); err != nil {
			return false, err
		}
		return true, f.announced.SetAnnounced(ctx, ch.ResourceID, false)
	}
	if err != nil {
		return false, err
	}
	if !r.Local() {
		return false, nil // other hubs hear it from its origin
	}
	obj, err := resourceObject(f.urls, r)
	if err != nil {
		return false, err
	}
	kind, id := "Create", createID(f.urls, r)
	if announced {
		kind, id = "Update", f.urls.activity("update", newID())
	}
	act, err := activity(kind, id, f.urls.actor(), obj, []string{asPublic}, []string{f.urls.followers()})
	if err != nil {
		return false, err
	}
	if err := f.enqueue(ctx, act, f.adaptationInboxes(ctx, r.ID, &r, inboxes)); err != nil {
		return false, err
	}
	if !announced {
		return true, f.announced.SetAnnounced(ctx, r.ID, true)
	}
	return true, nil
}

// createID names the Create of one incarnation of a resource: a resource
// deleted then published again under the same id gets a new Create, which
// receivers would otherwise drop as a replay.
func createID(u urls, r node.Resource) string {
	return u.activity("create", fmt.Sprintf("%s-%d", r.ID, r.Created.UnixNano()))
}
