package federation_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/bundle"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestCollectionZipOnTheFollower: a collection made on hub A reaches hub
// B, which mirrors A's files; B's zip of it holds every item's files,
// its manifest's digests are those A published and match the bytes, and
// the signature verifies with the key B's actor publishes (what
// `communs bundle verify --actor` fetches).
func TestCollectionZipOnTheFollower(t *testing.T) {
	ctx := context.Background()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	kits := publishCorpus(t, a, 2)
	c, err := a.Service.CreateCollection(ctx, node.Collection{Title: "Parcours numérique",
		Items: []node.CollectionItem{{Resource: kits[0].ID, Note: "Séance 1"}, {Resource: kits[1].ID, Note: "Séance 2"}}})
	if err != nil {
		t.Fatal(err)
	}
	follow(t, b, a, state.MirrorFiles)
	var cp node.Collection
	testenv.Eventually(t, 30*time.Second, "B holds A's collection with both items", func() bool {
		var ok bool
		cp, ok = remoteCollection(t, b, a.URL+"/collections/"+c.ID)
		return ok && len(cp.Items) == 2
	})
	want := map[string]string{} // sha256 -> file name, as A published them
	for _, k := range kits {
		for _, f := range k.Files {
			want[f.SHA256] = f.Name
		}
	}
	if len(want) == 0 {
		t.Fatal("the corpus kits have no files")
	}
	var zip []byte
	testenv.Eventually(t, 30*time.Second, "B's zip holds every file of A's kits", func() bool {
		resp, err := http.Get(b.URL + "/collections/" + cp.ID + ".zip")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		zip, _ = io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(zip)) {
			return false
		}
		arch, err := bundle.Open(bytes.NewReader(zip), int64(len(zip)))
		if err != nil {
			t.Fatalf("B's zip: %v", err)
		}
		n := 0
		for _, f := range arch.Manifest().Files {
			if _, ok := want[f.SHA256]; ok {
				n++
			}
		}
		return n == len(want)
	})
	key, err := bundle.FetchActorKey(ctx, nil, b.Fed.ActorURL(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	arch, err := bundle.Open(bytes.NewReader(zip), int64(len(zip)))
	if err != nil {
		t.Fatal(err)
	}
	if arch.Manifest().KeyID != key.KeyID {
		t.Errorf("manifest names key %s, B's actor publishes %s", arch.Manifest().KeyID, key.KeyID)
	}
	if rep := arch.Verify(ctx, key.Key); !rep.OK() {
		t.Fatalf("B's zip does not verify with B's published key: %+v", rep.Problems)
	}
}
