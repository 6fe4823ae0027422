package federation_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

func hostOf(u string) string {
	p, _ := url.Parse(u)
	return p.Host
}

// copyOf returns n's copy of the origin object, if any.
func copyOf(t *testing.T, n *testnode.Node, object string) (node.Resource, bool) {
	t.Helper()
	r, ok := remotes(t, n)[object]
	return r, ok
}

// TestShareReachesHubTwoHopsAway: B follows A, C follows only B. A
// publishes, B shares A's kit, and C lists it within 30 s credited to A
// (hub and origin), "shared by" B, its files mirrored as C mirrors B's.
// A's update reaches C through B's new Announce; a second share is the
// same; a cycle of shares leaves one copy per node and none on A; A's
// delete makes B take its share back and C drop the copy.
func TestShareReachesHubTwoHopsAway(t *testing.T) {
	ctx := context.Background()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-c"})
	follow(t, b, a, state.MirrorNone)
	follow(t, c, b, state.MirrorFiles)
	// For the cycle below: A follows B (so B's shares reach A) and B
	// follows C (so C's share reaches B).
	follow(t, a, b, state.MirrorNone)
	follow(t, b, c, state.MirrorNone)
	kit := publishCorpus(t, a, 1)[0]
	object := a.URL + "/r/" + kit.ID
	testenv.Eventually(t, 15*time.Second, "B holds A's kit", func() bool { _, ok := copyOf(t, b, object); return ok })
	onB, _ := copyOf(t, b, object)

	start := time.Now()
	sh, err := b.Service.ShareResource(ctx, onB.ID)
	if err != nil {
		t.Fatalf("share: %v", err)
	}
	if sh.Object != object || sh.Activity == "" {
		t.Fatalf("share = %+v, want the origin's object %s and an Announce id", sh, object)
	}
	testenv.Eventually(t, 30*time.Second, "C lists A's kit shared by B", func() bool { _, ok := copyOf(t, c, object); return ok })
	elapsed := time.Since(start)
	t.Logf("share A -> B -> C (two hops) reached C in %v", elapsed)
	onC, _ := copyOf(t, c, object)
	if onC.Hub != "hub-a" || onC.Origin != object || onC.SharedBy != "hub-b" || onC.Title != kit.Title {
		t.Fatalf("C's copy: hub %q origin %q shared by %q title %q; want hub-a, %s, hub-b, %q", onC.Hub, onC.Origin, onC.SharedBy, onC.Title, object, kit.Title)
	}
	if len(onC.Files) != len(kit.Files) {
		t.Fatalf("C's copy has %d files, want %d", len(onC.Files), len(kit.Files))
	}
	for _, f := range onC.Files {
		want, _ := kit.File(f.Name)
		if f.SHA256 != want.SHA256 {
			t.Errorf("file %s on C: sha256 %q, want it mirrored with %q (C mirrors B's files)", f.Name, f.SHA256, want.SHA256)
		}
	}
	// Only copies are shared: B's own kit is refused with the reason.
	own := publishCorpus(t, b, 1)[0]
	if _, err := b.Service.ShareResource(ctx, own.ID); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("share of B's own kit: %v, want ErrConflict", err)
	}

	// The same share again is the same Announce.
	again, err := b.Service.ShareResource(ctx, onB.ID)
	if err != nil || again.Activity != sh.Activity {
		t.Fatalf("second share = %+v, %v; want the first (%s)", again, err, sh.Activity)
	}

	// A cycle: B's share reached A, and C shares its copy too, which
	// reaches B. A never stores a copy of its own kit; B and C keep one
	// copy each.
	if _, err := c.Service.ShareResource(ctx, onC.ID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "A, B and C have applied every Announce", func() bool {
		for _, n := range []*testnode.Node{a, b, c} {
			if items, _ := n.Catalog.InboxItems(ctx, 1); len(items) > 0 {
				return false
			}
			if q, _ := n.Fed.Backlog(ctx); q > 0 {
				return false
			}
		}
		return true
	})
	for o := range remotes(t, a) {
		if hostOf(o) == hostOf(a.URL) {
			t.Errorf("A holds a copy of its own %s; a hub never stores a copy of its own kit", o)
		}
	}
	for name, n := range map[string]*testnode.Node{"B": b, "C": c} {
		count := 0
		for o := range remotes(t, n) {
			if o == object {
				count++
			}
		}
		if count != 1 {
			t.Errorf("%s holds %d copies of the kit, want 1", name, count)
		}
	}
	if r, _ := copyOf(t, b, object); r.SharedBy != "" {
		t.Errorf("B follows A: its copy is A's, not shared by %q", r.SharedBy)
	}

	// A updates: B receives the Update, announces again, C reads A anew.
	title := "Nouveau titre après mise à jour"
	if _, err := a.Service.Update(ctx, kit.ID, node.Patch{Title: &title}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "C's copy updated", func() bool { r, _ := copyOf(t, c, object); return r.Title == title })

	// A deletes: B drops its copy and takes its share back; C, whose only
	// sharer was B (C's own share does not count), drops it.
	if err := a.Service.Delete(ctx, kit.ID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 60*time.Second, "B and C dropped the kit", func() bool {
		_, onB := copyOf(t, b, object)
		_, onC := copyOf(t, c, object)
		return !onB && !onC
	})
}

// TestFediverseFollowerSeesShareAsBoost: a Mastodon-like follower of hub B
// receives B's share as an Announce of the origin's object id (a boost:
// actor B, to B's followers, cc Public), signed by B; the undo is an Undo
// naming that very Announce.
func TestFediverseFollowerSeesShareAsBoost(t *testing.T) {
	ctx := context.Background()
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	acct := newFediAccount(t)
	var actor struct {
		PublicKey struct {
			PEM string `json:"publicKeyPem"`
		} `json:"publicKey"`
	}
	getJSON(t, b.Fed.ActorURL(), &actor)
	pub, err := parsePEM(actor.PublicKey.PEM)
	if err != nil {
		t.Fatal(err)
	}
	acct.mu.Lock()
	acct.hubKey = pub
	acct.mu.Unlock()
	if got := acct.sendAs(t, b.URL+"/inbox", map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": acct.id + "#follows/1",
		"type": "Follow", "actor": acct.id, "object": b.Fed.ActorURL()}, "rsa-sha256"); got != 202 {
		t.Fatalf("Follow: %d", got)
	}
	testenv.Eventually(t, 15*time.Second, "Accept delivered", func() bool { return len(acct.types()) == 1 })

	origin := "https://hub-a.example/r/fiche-wifi"
	cp, err := b.Service.SaveRemote(ctx, node.Resource{ID: node.RemoteID(origin, "fiche-wifi"), Origin: origin,
		Metadata: node.Metadata{Title: "Se connecter au wifi", Kind: "practical-sheet", License: "CC-BY-4.0"}}, nil, node.Mirror{})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := b.Service.ShareResource(ctx, cp.ID)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "Announce delivered", func() bool { return len(acct.types()) == 2 })
	acct.mu.Lock()
	ann := acct.received[1]
	acct.mu.Unlock()
	if ann["type"] != "Announce" || ann["object"] != origin || ann["actor"] != b.Fed.ActorURL() || ann["id"] != sh.Activity ||
		ann["to"] != b.Fed.ActorURL()+"/followers" || ann["cc"] != "https://www.w3.org/ns/activitystreams#Public" {
		t.Fatalf("a boost is an Announce of the origin's object by the hub, to its followers, cc Public: %v", ann)
	}
	if _, err := b.Service.UnshareResource(ctx, cp.ID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "Undo delivered", func() bool { return len(acct.types()) == 3 })
	acct.mu.Lock()
	undo := acct.received[2]
	acct.mu.Unlock()
	inner, _ := undo["object"].(map[string]any)
	if undo["type"] != "Undo" || inner["type"] != "Announce" || inner["id"] != sh.Activity || inner["object"] != origin {
		t.Fatalf("Undo of the boost: %v", undo)
	}
	if acct.unsigned != 0 {
		t.Fatalf("%d deliveries failed the signature check", acct.unsigned)
	}
}

// TestDropTakesShareBack: an admin dropping a copy this hub shares takes
// the share back (followers get the Undo), so the hub no longer vouches
// for what it removed.
func TestDropTakesShareBack(t *testing.T) {
	ctx := context.Background()
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	origin := "https://hub-a.example/r/fiche-wifi"
	cp, err := b.Service.SaveRemote(ctx, node.Resource{ID: node.RemoteID(origin, "fiche-wifi"), Origin: origin,
		Metadata: node.Metadata{Title: "Se connecter au wifi", Kind: "practical-sheet", License: "CC-BY-4.0"}}, nil, node.Mirror{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Service.ShareResource(ctx, cp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Fed.Drop(ctx, cp.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Fed.Shared(ctx, cp); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("share after the copy was dropped: %v, want ErrNotFound", err)
	}
}
