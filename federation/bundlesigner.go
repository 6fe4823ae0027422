package federation

import (
	"path/filepath"
	"strings"

	"github.com/communs-numerique/communs/internal/bundle"
)

// BundleSigner signs bundles (a collection's zip) with the actor's key,
// under the key id the actor publishes, so a verifier can fetch it.
func (f *Federation) BundleSigner() (*bundle.RSASigner, error) {
	return bundle.NewRSASigner(f.key, f.urls.key())
}

// LoadBundleSigner is BundleSigner for a node that runs without
// federation (a public URL in http): the same key file, created at first
// use as New would, and the key id its actor publishes once federating.
func LoadBundleSigner(dataDir, publicURL string) (*bundle.RSASigner, error) {
	key, err := loadOrCreateKey(filepath.Join(dataDir, "federation", "actor.pem"))
	if err != nil {
		return nil, err
	}
	return bundle.NewRSASigner(key, urls{base: strings.TrimRight(publicURL, "/")}.key())
}
