package testnode_test

import (
	"testing"

	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
)

// TestProductionChain: a test node answers through the handler chain
// `communs serve` uses (health probes, gzip), not a bare web handler.
// Before internal/app, /healthz was a 404 here and pages were not gzipped.
func TestProductionChain(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true, Federate: true, Hub: "a"})
	testenv.CheckProductionChain(t, n.URL, "/healthz", "/readyz", "/", "/.well-known/nodeinfo")
	if n.App == nil || n.App.AdminHandler() == nil {
		t.Fatal("the node's admin handler is not reachable")
	}
}
