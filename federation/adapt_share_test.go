package federation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestAdaptationOfASharedKitReachesOrigin is the case as the
// network is shaped: hub C follows only hub B, which follows hub A. B
// shares A's kit, so C holds a copy credited to A without following it;
// C adapts that copy, and A, which follows neither B nor C, lists the
// adaptation; the adaptation's chain names A's kit and hub.
func TestAdaptationOfASharedKitReachesOrigin(t *testing.T) {
	ctx := context.Background()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-lens"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-sud"})
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-gap"})
	follow(t, b, a, state.MirrorNone)
	follow(t, c, b, state.MirrorNone)
	orig := publishCorpus(t, a, 1)[0]
	object := a.URL + "/r/" + orig.ID
	testenv.Eventually(t, 15*time.Second, "B holds A's kit", func() bool { _, ok := copyOf(t, b, object); return ok })
	onB, _ := copyOf(t, b, object)
	if _, err := b.Service.ShareResource(ctx, onB.ID); err != nil {
		t.Fatalf("B shares A's kit: %v", err)
	}
	var onC node.Resource
	testenv.Eventually(t, 30*time.Second, "C holds A's kit through B's share", func() bool {
		var ok bool
		onC, ok = copyOf(t, c, object)
		return ok
	})
	if onC.Hub != "hub-lens" || onC.SharedBy != "hub-sud" {
		t.Fatalf("C's copy: hub %q shared by %q, want hub-lens shared by hub-sud", onC.Hub, onC.SharedBy)
	}

	ad, err := c.Service.Adapt(ctx, onC.ID, node.AdaptOptions{Title: "Adaptation pour les séniors de Gap"})
	if err != nil {
		t.Fatalf("C adapts the shared copy: %v", err)
	}
	if len(ad.BasedOn) != 1 || ad.BasedOn[0].URL != object || ad.BasedOn[0].Hub != "hub-lens" {
		t.Fatalf("adaptation's chain = %+v, want A's kit %s on hub-lens", ad.BasedOn, object)
	}
	for _, f := range ad.Files {
		want, _ := orig.File(f.Name)
		if f.SHA256 != want.SHA256 || f.RemoteURL != "" {
			t.Errorf("adaptation's %s: sha256 %q remote %q, want A's bytes %q held on C", f.Name, f.SHA256, f.RemoteURL, want.SHA256)
		}
	}
	var got []map[string]string
	testenv.Eventually(t, 15*time.Second, "A lists C's adaptation", func() bool {
		got = apiAdaptations(t, a, orig.ID)
		return len(got) == 1
	})
	if got[0]["url"] != c.URL+"/r/"+ad.ID || !strings.HasPrefix(got[0]["hub"], "hub-gap@") {
		t.Errorf("A's list = %+v", got)
	}
	if _, ok := copyOf(t, a, c.URL+"/r/"+ad.ID); ok {
		t.Errorf("A keeps a copy of C's adaptation though it follows no one")
	}
}
