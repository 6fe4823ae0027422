package app

import (
	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/bundle"
)

// BundleSigner is the signer of the node's bundles (a collection's zip):
// the key of the hub's actor, so the actor document names and publishes
// it; with federation off, the same key file.
func BundleSigner(cfg Config, fed *federation.Federation) (bundle.Signer, error) {
	if fed != nil {
		return fed.BundleSigner()
	}
	return federation.LoadBundleSigner(cfg.Data, cfg.PublicURL)
}
