package bundle

import (
	"errors"
	"testing"
)

// FuzzParseManifest: whatever the JSON, parseManifest answers a Problem or
// a manifest whose every path is a safe bundle path, listed once, with a
// digest and a size a verifier can compare.
func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"format":"communs-bundle/1","key_id":"https://h.example/actor#main-key","signature_algorithm":"rsa-pkcs1v15-sha256",` +
		`"created":"2026-11-03T09:30:00Z","items":[{"folder":"01-a"}],"files":[{"path":"01-a/guide.pdf","size":3,` +
		`"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},{"path":"LICENCE.txt","size":1,` +
		`"sha256":"ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"}]}`))
	f.Add([]byte(`{"format":"communs-bundle/1","files":[{"path":"../x"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var m Manifest
		err := parseManifest(raw, &m)
		if err != nil {
			var p *Problem
			if !errors.As(err, &p) || p.FR == "" || p.EN == "" {
				t.Fatalf("err %v is not a Problem in both languages", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, f := range m.Files {
			if checkPath(f.Path) != nil || f.Path == ManifestName || f.Path == SignatureName || f.Size < 0 || !validDigest(f.SHA256) || seen[f.Path] {
				t.Fatalf("accepted %+v", f)
			}
			seen[f.Path] = true
		}
		if !seen[LicenceName] || m.KeyID == "" || m.Format != Format {
			t.Fatalf("accepted %+v", m)
		}
	})
}
