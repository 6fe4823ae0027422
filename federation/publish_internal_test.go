package federation

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
)

// countingFeed counts the publisher's cursor writes.
type countingFeed struct {
	node.ChangeFeed
	writes int
}

func (c *countingFeed) SetCursor(ctx context.Context, name string, seq uint64) error {
	c.writes++
	return c.ChangeFeed.SetCursor(ctx, name, seq)
}

// TestPublisherSkipsCopiesInOneWrite: the copies a backfill saves send
// nothing, so the publisher goes past 300 of them with one cursor write
// (it was one each); a local resource among them is still published, and
// the cursor ends after the last change.
func TestPublisherSkipsCopiesInOneWrite(t *testing.T) {
	dir := t.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Organisations: cat, Collections: cat, Adaptations: cat,
		Downloads: cat, Reports: cat, Blobs: blobs, Hub: "hub-b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	copies := func(from, n int) {
		var items []node.RemoteItem
		for i := from; i < from+n; i++ {
			origin := fmt.Sprintf("https://a.example/ressources/fiche-%d", i)
			items = append(items, node.RemoteItem{Resource: node.Resource{ID: node.RemoteID(origin, fmt.Sprintf("fiche-%d", i)), Origin: origin,
				Metadata: node.Metadata{Hub: "hub-a", Title: fmt.Sprintf("Fiche %d", i), Kind: "practical-sheet", License: "CC0-1.0"}}})
		}
		if _, errs, err := svc.SaveRemoteMany(ctx, items, node.Mirror{}); err != nil {
			t.Fatal(err)
		} else {
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	feed := &countingFeed{ChangeFeed: cat}
	f := &Federation{svc: svc, feed: feed, peers: cat, announced: cat, deliveries: cat, urls: urls{base: "https://b.example"},
		log: slog.New(slog.DiscardHandler), now: time.Now}

	copies(0, 150)
	local, err := svc.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Fiche locale", Kind: "practical-sheet", License: "CC0-1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	copies(150, 150)
	if err := f.publishChanges(ctx); err != nil {
		t.Fatal(err)
	}
	last, err := cat.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := cat.Cursor(ctx, feedCursor); cur != last {
		t.Errorf("publisher cursor at %d, want the last change %d", cur, last)
	}
	// Changes are read 200 at a time: the local resource's write, and one
	// for the copies after it in each read.
	if feed.writes > 3 {
		t.Errorf("%d cursor writes for 301 changes, want at most 3", feed.writes)
	}
	if announced, _ := cat.Announced(ctx, local.ID); !announced {
		t.Error("the local resource was not published")
	}
}
