package federation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestOutboxAndNodeInfoCountLocalResources: the outbox's totalItems and
// NodeInfo's localPosts count the node's own resources, not its copies of
// other nodes' ones.
func TestOutboxAndNodeInfoCountLocalResources(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	ctx := context.Background()
	for i := range 3 {
		if _, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: fmt.Sprintf("Fiche %d", i), Kind: "practical-sheet", License: "CC0-1.0"}}); err != nil {
			t.Fatal(err)
		}
	}
	copies := []node.Resource{
		{ID: "copie-1", Origin: "https://autre.example/objets/1", Metadata: node.Metadata{Title: "Copie 1"}},
		{ID: "copie-2", Origin: "https://autre.example/objets/2", Metadata: node.Metadata{Title: "Copie 2"}},
	}
	if _, _, err := a.Catalog.UpsertMany(ctx, copies, func(_, _ *node.Resource) error { return nil }); err != nil {
		t.Fatal(err)
	}
	get := func(path, accept string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, a.URL+path, nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return v
	}
	if got := get(paths.Outbox, "application/activity+json")["totalItems"]; got != 3.0 {
		t.Errorf("outbox totalItems = %v, want the 3 local resources", got)
	}
	usage, _ := get(paths.NodeInfo, "application/json")["usage"].(map[string]any)
	if got := usage["localPosts"]; got != 3.0 {
		t.Errorf("nodeinfo localPosts = %v, want 3", got)
	}
}
