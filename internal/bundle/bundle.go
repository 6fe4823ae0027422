// Package bundle writes and verifies signed bundles: one zip holding
// several resources (one folder each, with their files), a LICENCE.txt
// giving every resource's attribution line and licence, a manifest.json
// listing every file with its size and SHA-256, and manifest.json.sig, a
// detached RSA signature of the manifest by the hub's key, the one its
// ActivityPub actor publishes. A collection's download is such a bundle: a
// mediator who copied it from a USB stick can prove it intact and from its
// hub (`communs bundle verify`), offline when given the hub's public key.
//
// The zip is laid out by internal/storedzip from metadata alone (names,
// sizes, SHA-256 and CRC-32 of the files, the time of the collection's
// version), so its size is known before the first byte, the same inputs
// give the same bytes, and an HTTP answer supports Range and If-Range: a
// cut download resumes. Memory does not grow with the files' sizes.
//
// The format is described in docs/BUNDLES.md.
package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/communs-numerique/communs/internal/storedzip"
	"github.com/communs-numerique/communs/node"
)

// Names of the generated entries, at the root of the zip.
const (
	LicenceName   = "LICENCE.txt"
	ManifestName  = "manifest.json"
	SignatureName = "manifest.json.sig"
)

// Format is the manifest's format identifier; a verifier refuses others.
const Format = "communs-bundle/1"

// SignatureAlgorithm names how manifest.json.sig is made: RSASSA-PKCS1-v1_5
// with SHA-256 over the bytes of manifest.json. Deterministic (unlike
// RSA-PSS), so a bundle is byte-identical across downloads, which Range
// resumption needs; and `openssl dgst -sha256 -verify` checks it.
const SignatureAlgorithm = "rsa-pkcs1v15-sha256"

// layoutVersion is part of the ETag: bump it when this code changes the
// bytes of a bundle for the same inputs.
const layoutVersion = "bundle1"

// Limits a bundle's inputs (and a verifier's reading) stay within.
const (
	// MaxFiles bounds the files a manifest lists.
	MaxFiles = 100_000
	// MaxManifestSize bounds manifest.json (about 300 bytes a file).
	MaxManifestSize = 32 << 20
	// MaxSignatureSize bounds manifest.json.sig (RSA 8192 is 1,024 bytes).
	MaxSignatureSize = 1024
)

// Hub names the hub that made the bundle.
type Hub struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Spec is what a bundle holds.
type Spec struct {
	Hub Hub
	// Title and URL name what the bundle is (a collection and its page).
	Title string
	URL   string
	// Created is the time of the version bundled (a collection's Updated
	// time): it is the manifest's date and every entry's time, so the
	// same version gives the same bytes.
	Created time.Time
	Items   []Item
}

// Item is one resource, written as one folder.
type Item struct {
	// Folder is the item's folder in the zip: one name that passes
	// node.ValidateFileName, distinct from the others (case and
	// look-alikes folded) and from the generated entries.
	Folder          string
	Title           string
	URL             string // the resource's page
	AttributionLine string
	License         string // SPDX identifier
	LicenseName     string // its label ("Creative Commons Attribution 4.0"), optional
	LicenseURL      string
	Note            string // the collection's note on the item, optional
	Files           []File
	// Remote lists files that live only on another hub: named, with
	// their links, in LICENCE.txt and the manifest, not in the zip.
	Remote []RemoteFile
}

// File is one stored file of an item.
type File struct {
	Name   string // node.ValidateFileName
	Size   int64
	SHA256 string // lowercase hex
	// CRC32 is the file's CRC-32 (IEEE), which the zip headers carry
	// before the bytes: node.Service.BlobCRC32 gives it by digest.
	CRC32 uint32
	// Modified is the entry's time; zero means Spec.Created.
	Modified time.Time
	// Open opens the file's bytes. An io.ReadSeekCloser is used as is
	// (a Range request seeks; an *os.File gets sendfile); another reader
	// is read forward and reopened to seek back. A reader with a
	// Size() int64 method is checked against Size.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// RemoteFile is a file an item lists but the bundle does not hold.
type RemoteFile struct {
	Name   string `json:"name"`
	URL    string `json:"url"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Manifest is manifest.json.
type Manifest struct {
	Format string `json:"format"`
	Hub    Hub    `json:"hub"`
	// KeyID is the URL of the key that signed the manifest: the hub
	// actor's publicKey id (ACTOR#main-key); its document part is the
	// actor, whose publicKey.publicKeyPem is the key.
	KeyID              string         `json:"key_id"`
	SignatureAlgorithm string         `json:"signature_algorithm"`
	Title              string         `json:"title,omitempty"`
	URL                string         `json:"url,omitempty"`
	Created            string         `json:"created"`
	Items              []ManifestItem `json:"items"`
	// Files lists every file of the zip but manifest.json and its
	// signature: the items' files, then LICENCE.txt.
	Files []ManifestFile `json:"files"`
}

// ManifestItem describes one folder.
type ManifestItem struct {
	Folder      string       `json:"folder"`
	Title       string       `json:"title"`
	URL         string       `json:"url,omitempty"`
	Attribution string       `json:"attribution"`
	License     string       `json:"license"`
	LicenseURL  string       `json:"license_url,omitempty"`
	Note        string       `json:"note,omitempty"`
	Remote      []RemoteFile `json:"remote,omitempty"`
}

// ManifestFile is one file of the zip.
type ManifestFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Bundle is a planned bundle: its layout, manifest and signature are
// computed, no file byte was read. It is immutable; serve it as many
// times as wanted, concurrently.
type Bundle struct {
	layout    *storedzip.Layout
	manifest  []byte
	signature []byte
	licence   []byte
	etag      string
	files     map[string]File // by digest (the layout's keys)
	first     string          // digest of the first stored file, "" if none
}

// Plan lays out the bundle of spec and signs its manifest with signer.
// It refuses, naming the item and file, what would make a bundle a
// verifier rejects or an unzip loses: an unsafe or clashing folder or
// file name, a negative size, a digest that is not 64 hex characters, a
// file without Open, more than MaxFiles files.
func Plan(spec Spec, signer Signer) (*Bundle, error) {
	if signer == nil {
		return nil, errors.New("bundle: no signer")
	}
	keyID := signer.KeyID()
	if keyID == "" {
		return nil, errors.New("bundle: the signer has no key id")
	}
	if spec.Created.IsZero() {
		return nil, errors.New("bundle: no version time (Created): the bytes would not tell versions apart")
	}
	created := spec.Created.UTC().Truncate(time.Second)
	b := &Bundle{files: map[string]File{}}
	m := Manifest{Format: Format, Hub: spec.Hub, KeyID: keyID, SignatureAlgorithm: SignatureAlgorithm,
		Title: spec.Title, URL: spec.URL, Created: created.Format(time.RFC3339), Items: []ManifestItem{}, Files: []ManifestFile{}}
	taken := map[string]string{}
	for _, g := range []string{LicenceName, ManifestName, SignatureName} {
		taken[node.FileNameKey(g)] = g
	}
	var stored []storedzip.Entry
	for i, it := range spec.Items {
		if err := node.ValidateFileName(it.Folder); err != nil {
			return nil, fmt.Errorf("bundle: item %d (%q): folder name: %w", i+1, it.Title, err)
		}
		if prev, ok := taken[node.FileNameKey(it.Folder)]; ok {
			return nil, fmt.Errorf("bundle: item %d: folder %q clashes with %q", i+1, it.Folder, prev)
		}
		taken[node.FileNameKey(it.Folder)] = it.Folder
		m.Items = append(m.Items, ManifestItem{Folder: it.Folder, Title: it.Title, URL: it.URL, Attribution: it.AttributionLine,
			License: it.License, LicenseURL: it.LicenseURL, Note: it.Note, Remote: it.Remote})
		names := map[string]string{}
		for _, f := range it.Files {
			if err := node.ValidateFileName(f.Name); err != nil {
				return nil, fmt.Errorf("bundle: item %q: %w", it.Folder, err)
			}
			if prev, ok := names[node.FileNameKey(f.Name)]; ok {
				return nil, fmt.Errorf("bundle: item %q: files %q and %q would be one file once unzipped", it.Folder, prev, f.Name)
			}
			names[node.FileNameKey(f.Name)] = f.Name
			if f.Size < 0 {
				return nil, fmt.Errorf("bundle: item %q: file %q: negative size", it.Folder, f.Name)
			}
			if !validDigest(f.SHA256) {
				return nil, fmt.Errorf("bundle: item %q: file %q: SHA-256 %q is not 64 lowercase hex characters", it.Folder, f.Name, f.SHA256)
			}
			if f.Open == nil && f.Size > 0 {
				return nil, fmt.Errorf("bundle: item %q: file %q: nothing to open it with", it.Folder, f.Name)
			}
			if len(m.Files) >= MaxFiles {
				return nil, fmt.Errorf("bundle: more than %d files", MaxFiles)
			}
			path := it.Folder + "/" + f.Name
			mod := f.Modified
			if mod.IsZero() {
				mod = created
			}
			stored = append(stored, storedzip.Entry{Name: path, Size: f.Size, CRC32: f.CRC32, Modified: mod, Key: f.SHA256})
			m.Files = append(m.Files, ManifestFile{Path: path, Size: f.Size, SHA256: f.SHA256})
			if prev, ok := b.files[f.SHA256]; !ok {
				b.files[f.SHA256] = f
			} else if prev.Size != f.Size {
				return nil, fmt.Errorf("bundle: item %q: file %q: %d bytes, another file of the same SHA-256 has %d", it.Folder, f.Name, f.Size, prev.Size)
			}
			if b.first == "" && f.Size > 0 {
				b.first = f.SHA256
			}
		}
	}
	b.licence = []byte(licenceText(spec, keyID))
	ls := sha256.Sum256(b.licence)
	m.Files = append(m.Files, ManifestFile{Path: LicenceName, Size: int64(len(b.licence)), SHA256: hex.EncodeToString(ls[:])})

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("bundle: manifest: %w", err)
	}
	if buf.Len() > MaxManifestSize {
		return nil, fmt.Errorf("bundle: manifest of %d bytes is over the %d a verifier reads", buf.Len(), MaxManifestSize)
	}
	b.manifest = buf.Bytes()
	sig, err := signer.Sign(b.manifest)
	if err != nil {
		return nil, fmt.Errorf("bundle: sign the manifest: %w", err)
	}
	if len(sig) == 0 || len(sig) > MaxSignatureSize {
		return nil, fmt.Errorf("bundle: a signature of %d bytes", len(sig))
	}
	b.signature = sig

	// The generated entries come first: an archive tool lists LICENCE.txt
	// at the top, and a reader of the stream meets the manifest before
	// the files it lists.
	var entries []storedzip.Entry
	for _, g := range []struct {
		name string
		data []byte
	}{{LicenceName, b.licence}, {ManifestName, b.manifest}, {SignatureName, b.signature}} {
		entries = append(entries, storedzip.Entry{Name: g.name, Size: int64(len(g.data)), CRC32: crc32.ChecksumIEEE(g.data), Modified: created, Data: g.data})
	}
	entries = append(entries, stored...)
	if b.layout, err = storedzip.Plan(entries); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	// The layout's fingerprint covers every byte held in memory (headers,
	// LICENCE.txt, the manifest with every file's digest, the signature)
	// and the digest of each file read: equal ETags mean equal bytes.
	h := sha256.New()
	io.WriteString(h, layoutVersion)
	b.layout.Fingerprint(h)
	b.etag = `"bundle-` + hex.EncodeToString(h.Sum(nil)[:20]) + `"`
	return b, nil
}

// Size is the zip's length in bytes: the Content-Length.
func (b *Bundle) Size() int64 { return b.layout.Size() }

// ETag is a strong entity tag of the zip's bytes, quoted.
func (b *Bundle) ETag() string { return b.etag }

// Manifest returns the bytes of manifest.json.
func (b *Bundle) Manifest() []byte { return bytes.Clone(b.manifest) }

// Signature returns the bytes of manifest.json.sig.
func (b *Bundle) Signature() []byte { return bytes.Clone(b.signature) }

func validDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// licenceText is LICENCE.txt: what to credit for each folder, French
// first, then how to check the bundle.
func licenceText(spec Spec, keyID string) string {
	var b strings.Builder
	title := spec.Title
	if title == "" {
		title = "Ressources / Resources"
	}
	fmt.Fprintf(&b, "%s\n\n", oneLine(title))
	if spec.URL != "" {
		fmt.Fprintf(&b, "Source : %s\n", oneLine(spec.URL))
	}
	fmt.Fprintf(&b, "Hub : %s", oneLine(spec.Hub.Name))
	if spec.Hub.URL != "" {
		fmt.Fprintf(&b, " (%s)", oneLine(spec.Hub.URL))
	}
	fmt.Fprintf(&b, "\nVersion : %s\n\n", spec.Created.UTC().Format(time.RFC3339))
	b.WriteString("Chaque dossier contient une ressource. En la réutilisant, reproduisez sa mention\n" +
		"d'attribution et respectez sa licence, données ci-dessous.\n" +
		"Each folder holds one resource. When you reuse it, give its attribution line and\n" +
		"follow its licence, both given below.\n")
	for _, it := range spec.Items {
		fmt.Fprintf(&b, "\n%s/\n  %s\n", it.Folder, oneLine(it.Title))
		if it.Note != "" {
			fmt.Fprintf(&b, "  Note : %s\n", oneLine(it.Note))
		}
		fmt.Fprintf(&b, "  Attribution / Credit :\n    %s\n", oneLine(it.AttributionLine))
		lic := it.License
		if it.LicenseName != "" {
			lic = it.LicenseName + " (" + it.License + ")"
		}
		fmt.Fprintf(&b, "  Licence / License : %s\n", oneLine(lic))
		if it.LicenseURL != "" {
			fmt.Fprintf(&b, "    %s\n", oneLine(it.LicenseURL))
		}
		if it.URL != "" {
			fmt.Fprintf(&b, "  Page : %s\n", oneLine(it.URL))
		}
		if len(it.Remote) > 0 {
			b.WriteString("  Fichiers hébergés par un autre hub, non inclus / Files hosted by another hub, not included:\n")
			for _, r := range it.Remote {
				fmt.Fprintf(&b, "    %s : %s\n", oneLine(r.Name), oneLine(r.URL))
			}
		}
	}
	fmt.Fprintf(&b, "\nVérifier / Verify\n"+
		"  manifest.json liste chaque fichier avec sa taille et son SHA-256 ; manifest.json.sig\n"+
		"  en est la signature (RSA PKCS#1 v1.5, SHA-256) par la clé du hub :\n"+
		"  manifest.json lists every file with its size and SHA-256; manifest.json.sig is its\n"+
		"  signature (RSA PKCS#1 v1.5, SHA-256) by the hub's key:\n"+
		"    %s\n"+
		"  communs bundle verify FICHIER.zip --actor %s\n"+
		"  openssl dgst -sha256 -verify hub.pem -signature manifest.json.sig manifest.json\n",
		keyID, actorOf(keyID))
	return b.String()
}

// oneLine keeps a field on its line: a title or note with a line break
// could otherwise forge another item's attribution in LICENCE.txt.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }), " ")
}

// actorOf is the document part of a key id: the actor that publishes it.
func actorOf(keyID string) string {
	doc, _, _ := strings.Cut(keyID, "#")
	return doc
}
