package app_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/internal/bundle"
	"github.com/communs-numerique/communs/internal/testnode"
)

// TestBundleSignerIsTheActorKey: a bundle the node signs verifies with the
// key its actor publishes, under the key id the actor names; a node
// without federation signs with the same key file and key id.
func TestBundleSignerIsTheActorKey(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-du-sud"})
	signer, err := app.BundleSigner(n.App.Config, n.Fed)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Plan(bundle.Spec{Hub: bundle.Hub{Name: "Hub du Sud", URL: n.URL}, Created: time.Now(),
		Items: []bundle.Item{{Folder: "01-vide", Title: "Vide", AttributionLine: "Vide, CC0", License: "CC0-1.0"}}}, signer)
	if err != nil {
		t.Fatal(err)
	}
	var zip bytes.Buffer
	if _, err := b.WriteTo(context.Background(), &zip); err != nil {
		t.Fatal(err)
	}
	a, err := bundle.Open(bytes.NewReader(zip.Bytes()), int64(zip.Len()))
	if err != nil {
		t.Fatal(err)
	}
	ak, err := bundle.FetchActorKey(context.Background(), nil, n.Fed.ActorURL(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if ak.KeyID != a.Manifest().KeyID || ak.KeyID != signer.KeyID() {
		t.Fatalf("actor publishes %s, the manifest names %s", ak.KeyID, a.Manifest().KeyID)
	}
	if rep := a.Verify(context.Background(), ak.Key); !rep.OK() {
		t.Fatalf("%+v", rep.Problems)
	}
	off, err := federation.LoadBundleSigner(n.App.Config.Data, n.App.Config.PublicURL)
	if err != nil {
		t.Fatal(err)
	}
	if off.KeyID() != signer.KeyID() || off.PublicKeyPEM() != signer.PublicKeyPEM() {
		t.Fatalf("without federation: key %s\n%s\nwith: %s\n%s", off.KeyID(), off.PublicKeyPEM(), signer.KeyID(), signer.PublicKeyPEM())
	}
}
