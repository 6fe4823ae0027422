package federation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// publishCorpus publishes n open-licence corpus resources with small files.
func publishCorpus(t *testing.T, hub *testnode.Node, n int) []node.Resource {
	t.Helper()
	ctx := context.Background()
	var out []node.Resource
	for _, r := range corpus.Open(corpus.MustLoad(t)) {
		if len(out) == n {
			break
		}
		files := r.Files
		r.Files = nil
		stored, err := hub.Service.Publish(ctx, r, func(yield func(node.Upload) error) error {
			for _, f := range files {
				size := min(f.Size, 4096)
				if err := yield(node.Upload{Name: f.Name, MediaType: f.MediaType, Size: size, Body: corpus.Content(r.ID, f.Name, size)}); err != nil {
					return err
				}
			}
			return nil
		}, false)
		if err != nil {
			t.Fatalf("publish %s: %v", r.ID, err)
		}
		out = append(out, stored)
	}
	return out
}

func remotes(t *testing.T, n *testnode.Node) map[string]node.Resource {
	t.Helper()
	out := map[string]node.Resource{}
	cursor := ""
	for {
		rs, next, err := n.Service.List(context.Background(), node.ListOptions{After: cursor, Limit: 100, Origin: "remote"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			out[r.Origin] = r
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

func follow(t testing.TB, from, to *testnode.Node, mirror string) {
	t.Helper()
	if _, err := from.Fed.Follow(context.Background(), strings.TrimPrefix(to.URL, "http://"), federation.FollowOptions{Mirror: mirror}); err != nil {
		t.Fatalf("follow: %v", err)
	}
	testenv.Eventually(t, 15*time.Second, "follow accepted", func() bool {
		rep, _ := from.Fed.Report(context.Background())
		for _, p := range rep.Peers {
			if p.ActorID == to.Fed.ActorURL() && p.Following == state.StateAccepted {
				return true
			}
		}
		return false
	})
}

func searchIDs(t *testing.T, n *testnode.Node, q string) []string {
	t.Helper()
	res, err := n.Client.Search(context.Background(), url.Values{"q": {q}})
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	var ids []string
	for _, h := range res.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

func get(t *testing.T, rawURL string) (int, []byte, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("Location")
}

// TestThreeHubsConverge: B and C follow A (C mirrors its files). They
// backfill what A had, then follow A's creates, updates and deletes, in
// their catalogs, their search and C's mirrored files, which C keeps
// serving when A is gone.
func TestThreeHubsConverge(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Search: true})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b", Search: true})
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-c", Search: true})
	existing := publishCorpus(t, a, 12)

	follow(t, b, a, state.MirrorNone)
	follow(t, c, a, state.MirrorFiles)
	for _, n := range []*testnode.Node{b, c} {
		testenv.Eventually(t, 15*time.Second, "backfill of A's resources", func() bool { return len(remotes(t, n)) == len(existing) })
	}
	// A copy whose origin deleted it while B was not listening (a missed
	// Delete) goes at the next backfill, which also must not duplicate.
	ghost := node.Resource{ID: node.RemoteID(a.URL+"/r/disparue", "disparue"), Origin: a.URL + "/r/disparue",
		Metadata: node.Metadata{Title: "Fiche supprimée à l'origine", Kind: "practical-sheet", License: "CC0-1.0"}}
	if _, err := b.Service.SaveRemote(context.Background(), ghost, nil, node.Mirror{}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Fed.Backfill(context.Background(), a.Fed.ActorURL()); err != nil || n != len(existing) || len(remotes(t, b)) != len(existing) {
		t.Fatalf("a second backfill must refresh, drop the ghost and not duplicate: %d saved, %d held, %v", n, len(remotes(t, b)), err)
	}
	first := remotes(t, c)[a.URL+"/r/"+existing[0].ID]
	if first.Title != existing[0].Title || first.License != existing[0].License || len(first.Files) != len(existing[0].Files) {
		t.Fatalf("backfilled copy differs: %+v", first)
	}

	ctx := context.Background()
	r, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Sécuriser sa box internet", Kind: "practical-sheet", License: "CC-BY-4.0",
		Themes: []string{"cybersecurite"}, Summary: "Changer le mot de passe wifi."}})
	if err != nil {
		t.Fatal(err)
	}
	origin := a.URL + "/r/" + r.ID
	data := []byte("%PDF-1.7 fiche box internet")
	if _, err := a.Service.PutFile(ctx, r.ID, node.Upload{Name: "fiche-box.pdf", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	title := "Sécuriser sa box internet et son wifi"
	if _, err := a.Service.Update(ctx, r.ID, node.Patch{Title: &title}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testnode.Node{b, c} {
		testenv.Eventually(t, 15*time.Second, "create, file and update reach "+n.URL, func() bool {
			got, ok := remotes(t, n)[origin]
			return ok && got.Title == title && len(got.Files) == 1
		})
		id := remotes(t, n)[origin].ID
		testenv.Eventually(t, 15*time.Second, "the new resource is searchable on "+n.URL, func() bool { return slices.Contains(searchIDs(t, n, "box wifi"), id) })
		if got := remotes(t, n)[origin]; got.Hub != "hub-a" {
			t.Errorf("remote resource should keep its hub facet hub-a: %+v", got)
		}
	}

	// B links downloads to A; C serves its verified copy.
	bID, cID := remotes(t, b)[origin].ID, remotes(t, c)[origin].ID
	status, _, loc := get(t, b.URL+"/r/"+bID+"/files/fiche-box.pdf")
	if status != http.StatusFound || loc != a.URL+"/r/"+r.ID+"/files/fiche-box.pdf" {
		t.Errorf("B (mirror none) should send downloads to A: %d %q", status, loc)
	}

	if err := a.Service.Delete(ctx, existing[1].ID); err != nil {
		t.Fatal(err)
	}
	gone := a.URL + "/r/" + existing[1].ID
	for _, n := range []*testnode.Node{b, c} {
		testenv.Eventually(t, 15*time.Second, "delete reaches "+n.URL, func() bool { _, ok := remotes(t, n)[gone]; return !ok })
	}
	// Published again under the same id: a new Create, not a replay.
	again := existing[1]
	again.Files = nil
	if _, err := a.Service.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testnode.Node{b, c} {
		testenv.Eventually(t, 15*time.Second, "re-created resource reaches "+n.URL, func() bool { _, ok := remotes(t, n)[gone]; return ok })
	}

	a.Close()
	status, body, _ := get(t, c.URL+"/r/"+cID+"/files/fiche-box.pdf")
	if status != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("C (mirror files) should serve the file with A down: %d %q", status, body)
	}
}

// TestPeerDownGetsEverything: B is down while A publishes 20 resources and
// A itself restarts mid-queue; when B is back, all 20 arrive.
func TestPeerDownGetsEverything(t *testing.T) {
	aDir, bDir := t.TempDir(), t.TempDir()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Dir: aDir})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b", Dir: bDir})
	aAddr, bAddr := strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")
	follow(t, b, a, state.MirrorNone)

	b.Close()
	ctx := context.Background()
	for i := range 20 {
		if _, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: fmt.Sprintf("Fiche pendant la panne %d", i), Kind: "practical-sheet", License: "CC0-1.0"}}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 15*time.Second, "A queued the deliveries", func() bool {
		n, _ := a.Fed.Backlog(ctx)
		return n == 20
	})
	a.Close()
	a = testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", Dir: aDir, Addr: aAddr})
	if n, _ := a.Fed.Backlog(ctx); n != 20 {
		t.Fatalf("the delivery queue did not survive A's restart: %d waiting", n)
	}
	b = testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b", Dir: bDir, Addr: bAddr})
	testenv.Eventually(t, 15*time.Second, "all 20 reach B once it is back", func() bool { return len(remotes(t, b)) == 20 })
	testenv.Eventually(t, 15*time.Second, "A's queue drains", func() bool { n, _ := a.Fed.Backlog(ctx); return n == 0 })
}

// TestBlockAndApprove: with the approve policy a follow waits for the
// admin; a blocked domain's resources leave the catalog and its follows
// are refused.
func TestBlockAndApprove(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a", FollowPolicy: federation.PolicyApprove})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	published := publishCorpus(t, a, 3)
	ctx := context.Background()
	if _, err := b.Fed.Follow(ctx, a.URL, federation.FollowOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "the request waits on A", func() bool {
		rep, _ := a.Fed.Report(ctx)
		return len(rep.Peers) == 1 && rep.Peers[0].Follower == state.StatePending
	})
	// A change on A while B waits: once A's publisher has handled it (its
	// feed cursor reaches the last change), nothing may be queued for B nor
	// have reached it. Waiting on the cursor, not on a sleep, makes this
	// check mean something on a slow machine too.
	title := "Modifié pendant l'attente"
	if _, err := a.Service.Update(ctx, published[0].ID, node.Patch{Title: &title}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "A's publisher handled the change", func() bool {
		cur, _ := a.Catalog.Cursor(ctx, "federation")
		last, _ := a.Catalog.LastSeq(ctx)
		return cur == last
	})
	if n, _ := a.Fed.Backlog(ctx); n != 0 || len(remotes(t, b)) != 0 {
		t.Fatalf("nothing may be sent before A accepts: %d queued on A, %d copies on B", n, len(remotes(t, b)))
	}
	if err := a.Fed.Answer(ctx, b.Fed.Handle(), true); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "backfill after approval", func() bool { return len(remotes(t, b)) == 3 })

	removed, err := b.Fed.Block(ctx, "127.0.0.1")
	if err != nil || removed != 3 || len(remotes(t, b)) != 0 {
		t.Fatalf("block: removed %d, err %v, left %d", removed, err, len(remotes(t, b)))
	}
	if _, err := b.Fed.Follow(ctx, a.URL, federation.FollowOptions{}); !errors.Is(err, node.ErrForbidden) {
		t.Fatalf("following a blocked domain: %v, want forbidden", err)
	}
}
