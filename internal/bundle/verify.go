package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/communs-numerique/communs/node"
)

// Problem is one reason a bundle is not what it claims, in French and in
// English, naming the file concerned when there is one.
type Problem struct {
	Path string // the zip entry concerned, "" for the bundle as a whole
	FR   string
	EN   string
}

func (p Problem) Error() string {
	if p.Path != "" {
		return p.Path + ": " + p.EN
	}
	return p.EN
}

func problem(path, fr, en string, args ...any) *Problem {
	return &Problem{Path: path, FR: fmt.Sprintf(fr, args...), EN: fmt.Sprintf(en, args...)}
}

// Archive is an opened bundle whose structure was checked: a readable zip
// of stored entries with safe, distinct names whose bytes do not overlap,
// a manifest of the known format and a signature. Its files are not read
// yet: Verify does.
type Archive struct {
	zip       *zip.Reader
	entries   map[string]*zip.File
	manifest  Manifest
	raw       []byte // manifest.json's bytes, as signed
	signature []byte
}

// Open checks the structure of the zip in ra (size bytes) and reads its
// manifest and signature. Every refusal is a *Problem. It reads at most
// MaxManifestSize + MaxSignatureSize bytes besides the zip's directory,
// which archive/zip bounds by the file's size.
func Open(ra io.ReaderAt, size int64) (*Archive, error) {
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, problem("", "ce n'est pas un fichier zip lisible (%v)", "not a readable zip file (%v)", err)
	}
	a := &Archive{zip: zr, entries: make(map[string]*zip.File, len(zr.File))}
	keys := make(map[string]string, len(zr.File))
	type span struct {
		name     string
		off, end uint64
	}
	spans := make([]span, 0, len(zr.File))
	for _, f := range zr.File {
		if err := checkPath(f.Name); err != nil {
			return nil, err
		}
		k := node.FileNameKey(f.Name)
		if prev, ok := keys[k]; ok {
			if prev == f.Name {
				return nil, problem(f.Name, "le zip contient deux fois ce fichier", "the zip holds this file twice")
			}
			return nil, problem(f.Name, "le zip contient aussi %q : une fois décompressés, ils ne feraient qu'un", "the zip also holds %q: unzipped, they would be one file", prev)
		}
		keys[k] = f.Name
		if f.Flags&0x1 != 0 {
			return nil, problem(f.Name, "fichier chiffré", "encrypted entry")
		}
		if f.Method != zip.Store {
			return nil, problem(f.Name, "fichier compressé : un paquet Communs ne contient que des fichiers stockés tels quels", "compressed entry: a Communs bundle holds stored entries only")
		}
		off, err := f.DataOffset()
		if err != nil || off < 0 {
			return nil, problem(f.Name, "en-tête illisible", "unreadable header")
		}
		if f.CompressedSize64 != f.UncompressedSize64 || f.UncompressedSize64 > uint64(size) || uint64(off) > uint64(size)-f.UncompressedSize64 {
			return nil, problem(f.Name, "taille déclarée (%d octets) au-delà de la fin du zip", "declared size (%d bytes) past the end of the zip", f.UncompressedSize64)
		}
		spans = append(spans, span{f.Name, uint64(off), uint64(off) + f.UncompressedSize64})
		a.entries[f.Name] = f
	}
	// Entries whose bytes overlap would let a small zip make a verifier
	// read the same gigabyte again and again.
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	for i := 1; i < len(spans); i++ {
		if spans[i].off < spans[i-1].end {
			return nil, problem(spans[i].name, "ses octets chevauchent ceux de %q", "its bytes overlap those of %q", spans[i-1].name)
		}
	}
	if a.raw, err = a.readSmall(ManifestName, MaxManifestSize); err != nil {
		return nil, err
	}
	if a.signature, err = a.readSmall(SignatureName, MaxSignatureSize); err != nil {
		return nil, err
	}
	if err := parseManifest(a.raw, &a.manifest); err != nil {
		return nil, err
	}
	return a, nil
}

// readSmall reads a generated entry of at most limit bytes.
func (a *Archive) readSmall(name string, limit int64) ([]byte, error) {
	f, ok := a.entries[name]
	if !ok {
		return nil, problem(name, "absent : ce n'est pas un paquet signé", "missing: this is not a signed bundle")
	}
	if f.UncompressedSize64 > uint64(limit) {
		return nil, problem(name, "%d octets, plus que les %d admis", "%d bytes, more than the %d allowed", f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, problem(name, "illisible (%v)", "unreadable (%v)", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, problem(name, "illisible (%v)", "unreadable (%v)", err)
	}
	return b, nil
}

// checkPath accepts the names a bundle has: a generated entry at the root,
// or FOLDER/FILE, each part a name node.ValidateFileName accepts (no "..",
// no leading dot or slash, no backslash, control or look-alike character).
func checkPath(name string) *Problem {
	if name == LicenceName || name == ManifestName || name == SignatureName {
		return nil
	}
	parts := strings.Split(name, "/")
	if len(parts) > 2 {
		return problem(name, "chemin non admis : plus d'un dossier", "path not allowed: more than one folder")
	}
	for _, p := range parts {
		if err := node.ValidateFileName(p); err != nil {
			return problem(name, "chemin non admis (%v)", "path not allowed (%v)", err)
		}
	}
	if len(parts) == 1 {
		return problem(name, "fichier inattendu à la racine du zip", "unexpected file at the root of the zip")
	}
	return nil
}

// parseManifest decodes and checks manifest.json.
func parseManifest(raw []byte, m *Manifest) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(m); err != nil {
		return problem(ManifestName, "JSON illisible (%v)", "unreadable JSON (%v)", err)
	}
	if dec.More() {
		return problem(ManifestName, "données après l'objet JSON", "data after the JSON object")
	}
	if m.Format != Format {
		return problem(ManifestName, "format %q inconnu (attendu %q)", "unknown format %q (want %q)", m.Format, Format)
	}
	if m.SignatureAlgorithm != SignatureAlgorithm {
		return problem(ManifestName, "algorithme de signature %q inconnu", "unknown signature algorithm %q", m.SignatureAlgorithm)
	}
	if m.KeyID == "" {
		return problem(ManifestName, "clé de signature non nommée (key_id)", "signing key not named (key_id)")
	}
	if len(m.Files) > MaxFiles {
		return problem(ManifestName, "%d fichiers, plus que les %d admis", "%d files, more than the %d allowed", len(m.Files), MaxFiles)
	}
	folders := map[string]bool{}
	for _, it := range m.Items {
		folders[it.Folder] = true
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return &Problem{Path: ManifestName, FR: fmt.Sprintf("liste %q : %s", f.Path, err.FR), EN: fmt.Sprintf("lists %q: %s", f.Path, err.EN)}
		}
		if f.Path == ManifestName || f.Path == SignatureName {
			return problem(ManifestName, "se liste lui-même ou sa signature", "lists itself or its signature")
		}
		if folder, _, ok := strings.Cut(f.Path, "/"); ok && !folders[folder] {
			return problem(ManifestName, "liste %q, dans un dossier qu'aucune ressource ne décrit", "lists %q, in a folder no item describes", f.Path)
		}
		k := node.FileNameKey(f.Path)
		if seen[k] {
			return problem(ManifestName, "liste deux fois %q", "lists %q twice", f.Path)
		}
		seen[k] = true
		if f.Size < 0 {
			return problem(ManifestName, "taille négative pour %q", "negative size for %q", f.Path)
		}
		if !validDigest(f.SHA256) {
			return problem(ManifestName, "SHA-256 invalide pour %q", "invalid SHA-256 for %q", f.Path)
		}
	}
	if !seen[node.FileNameKey(LicenceName)] {
		return problem(ManifestName, "ne liste pas %s", "does not list %s", LicenceName)
	}
	return nil
}

// Manifest is the bundle's manifest, as read (not yet verified).
func (a *Archive) Manifest() Manifest { return a.manifest }

// ManifestBytes are the bytes of manifest.json, as signed.
func (a *Archive) ManifestBytes() []byte { return bytes.Clone(a.raw) }

// Report is the outcome of Verify.
type Report struct {
	Files    int   // files checked (size and SHA-256 as listed)
	Bytes    int64 // their bytes
	Problems []Problem
}

// OK reports a bundle intact and signed by the key.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks the signature of the manifest with pub, then every file:
// each one the manifest lists is in the zip with its size and SHA-256,
// and the zip holds nothing else but the manifest and its signature. It
// reads each file once, in the zip's order, with constant memory; ctx
// stops it.
func (a *Archive) Verify(ctx context.Context, pub *rsa.PublicKey) Report {
	var rep Report
	if err := VerifySignature(pub, a.raw, a.signature); err != nil {
		rep.Problems = append(rep.Problems, *problem(SignatureName,
			"signature invalide : le manifeste n'a pas été signé par cette clé, ou il a été modifié (%v)",
			"invalid signature: the manifest was not signed by this key, or it was changed (%v)", err))
	}
	listed := make(map[string]ManifestFile, len(a.manifest.Files))
	for _, f := range a.manifest.Files {
		listed[f.Path] = f
		if _, ok := a.entries[f.Path]; !ok {
			rep.Problems = append(rep.Problems, *problem(f.Path, "absent du zip", "missing from the zip"))
		}
	}
	buf := make([]byte, 256<<10)
	for _, zf := range a.zip.File {
		if zf.Name == ManifestName || zf.Name == SignatureName {
			continue
		}
		want, ok := listed[zf.Name]
		if !ok {
			rep.Problems = append(rep.Problems, *problem(zf.Name, "fichier absent du manifeste", "file not in the manifest"))
			continue
		}
		if zf.UncompressedSize64 != uint64(want.Size) {
			rep.Problems = append(rep.Problems, *problem(zf.Name, "%d octets, le manifeste en annonce %d", "%d bytes, the manifest says %d", zf.UncompressedSize64, want.Size))
			continue
		}
		if err := ctx.Err(); err != nil {
			rep.Problems = append(rep.Problems, *problem(zf.Name, "vérification interrompue", "verification stopped"))
			return rep
		}
		got, err := digest(ctx, zf, buf)
		switch {
		case err != nil:
			rep.Problems = append(rep.Problems, *problem(zf.Name, "illisible (%v)", "unreadable (%v)", err))
		case got != want.SHA256:
			rep.Problems = append(rep.Problems, *problem(zf.Name, "contenu modifié : son SHA-256 n'est pas celui du manifeste", "content changed: its SHA-256 is not the manifest's"))
		default:
			rep.Files++
			rep.Bytes += want.Size
		}
	}
	return rep
}

// digest is the SHA-256 of a stored entry; archive/zip also checks its
// CRC-32 and that it holds no more bytes than declared.
func digest(ctx context.Context, f *zip.File, buf []byte) (string, error) {
	rc, err := f.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, ctxReader{ctx, rc}, buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
