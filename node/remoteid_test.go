package node_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

// TestRemoteIDsDoNotCollide: copies of many objects with the same slug get
// distinct ids. With 32-bit tags a birthday search among a few hundred
// thousand object ids finds a collision (a peer did it in minutes and took
// another hub's future id); with 80 bits it takes ~2^40 tries.
func TestRemoteIDsDoNotCollide(t *testing.T) {
	n := 300_000
	if testing.Short() {
		n = 50_000
	}
	seen := make(map[string]int, n)
	for i := range n {
		id := node.RemoteID(fmt.Sprintf("https://sud.example/r/fiche-%d", i), "creer-une-adresse-email")
		if j, ok := seen[id]; ok {
			t.Fatalf("objects %d and %d share the local id %s", j, i, id)
		}
		seen[id] = i
	}
	id := node.RemoteID("https://sud.example/r/x", strings.Repeat("tres-long-titre-", 10))
	tag := id[strings.LastIndexByte(id, '-')+1:]
	if len(id) > node.MaxIDLen || len(tag) < 16 || node.ValidateID(id) != nil {
		t.Fatalf("RemoteID %q: want a valid id of at most %d characters ending in a 16-character tag", id, node.MaxIDLen)
	}
	if a, b := node.RemoteID("https://sud.example/r/x", "x"), node.RemoteID("https://sud.example/r/x", "x"); a != b {
		t.Fatal("the same object must always get the same id")
	}
}

// TestLegacyCopiesKeepTheirIDs: a copy stored under a 32-bit tag before the
// change is updated in place (no duplicate); a legacy id held by a copy of
// another object is not reused, and the new copy is stored anyway.
func TestLegacyCopiesKeepTheirIDs(t *testing.T) {
	svc := remoteService(t)
	ctx := context.Background()
	legacy := ghostResource()
	legacy.ID = node.LegacyRemoteID(origin, "fiche-box")
	legacy.Updated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := svc.SaveRemote(ctx, legacy, nil, node.Mirror{}); err != nil {
		t.Fatal(err)
	}
	update := ghostResource()
	update.Title, update.Updated = "Fiche box, version 2", legacy.Updated.Add(time.Hour)
	saved, errs, err := svc.SaveRemoteMany(ctx, []node.RemoteItem{{Resource: update, LegacyID: legacy.ID}}, node.Mirror{})
	if err != nil || errs[0] != nil {
		t.Fatal(err, errs[0])
	}
	if saved[0].ID != legacy.ID {
		t.Fatalf("update stored as %s, want the legacy id %s kept", saved[0].ID, legacy.ID)
	}
	if n, _ := svc.Count(ctx); n != 1 {
		t.Fatalf("%d resources, want the one copy updated in place", n)
	}

	// Someone else's copy squats the legacy id of another object.
	const other = "https://nord.example/r/guide"
	squat := node.Resource{ID: node.LegacyRemoteID(other, "guide"), Origin: "https://evil.example/r/guide-squat",
		Metadata: node.Metadata{Title: "Squat", Kind: "practical-sheet", License: "CC0-1.0"}}
	if _, err := svc.SaveRemote(ctx, squat, nil, node.Mirror{}); err != nil {
		t.Fatal(err)
	}
	genuine := node.Resource{ID: node.RemoteID(other, "guide"), Origin: other, Metadata: node.Metadata{Title: "Guide", Kind: "practical-sheet", License: "CC0-1.0"}}
	saved, errs, err = svc.SaveRemoteMany(ctx, []node.RemoteItem{{Resource: genuine, LegacyID: squat.ID}}, node.Mirror{})
	if err != nil || errs[0] != nil {
		t.Fatalf("a genuine copy refused because its legacy id is squatted: %v %v", err, errs[0])
	}
	if saved[0].ID != genuine.ID || saved[0].Origin != other {
		t.Fatalf("genuine copy stored as %+v", saved[0])
	}
}

// TestCopiesAreChangedOnlyByTheirOrigin: an editor cannot delete a copy
// (every other write already refused), and a local resource never takes a
// copy's id: an explicit id gets a clear conflict, a title-derived one its
// own id.
func TestCopiesAreChangedOnlyByTheirOrigin(t *testing.T) {
	svc := remoteService(t)
	ctx := context.Background()
	copy, err := svc.SaveRemote(ctx, ghostResource(), nil, node.Mirror{})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, copy.ID); !errors.Is(err, node.ErrForbidden) {
		t.Fatalf("delete of a copy: %v, want forbidden", err)
	}
	if _, err := svc.Get(ctx, copy.ID); err != nil {
		t.Fatalf("the copy is gone after a refused delete: %v", err)
	}
	local := node.Resource{ID: copy.ID, Metadata: node.Metadata{Title: "Squat", Kind: "practical-sheet", License: "CC0-1.0"}}
	for _, replace := range []bool{false, true} {
		_, err := svc.Publish(ctx, local, nil, replace)
		if !errors.Is(err, node.ErrConflict) || !strings.Contains(err.Error(), "another hub") {
			t.Fatalf("publish over a copy's id (replace %v): %v, want a conflict naming the copy", replace, err)
		}
	}
	byTitle, err := svc.Publish(ctx, node.Resource{Metadata: node.Metadata{Title: strings.ReplaceAll(copy.ID, "-", " "), Kind: "practical-sheet", License: "CC0-1.0"}}, nil, false)
	if err != nil || byTitle.ID == copy.ID {
		t.Fatalf("a local resource whose title gives a copy's id: %v, id %q", err, byTitle.ID)
	}
	if got, _ := svc.Get(ctx, copy.ID); got.Origin != origin {
		t.Fatalf("the copy changed: %+v", got)
	}
}
