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
	"io/fs"
	"os"
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
	list      []*entry          // in the zip's (or the folder's) order
	entries   map[string]*entry // by name
	ignored   []string          // a folder's system files (.DS_Store ...)
	root      *os.Root          // an unzipped folder's; nil for a zip
	file      *os.File          // the zip OpenPath opened
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
	a := &Archive{entries: make(map[string]*entry, len(zr.File))}
	keys := make(map[string]string, len(zr.File))
	type span struct {
		name     string
		off, end uint64
	}
	spans := make([]span, 0, len(zr.File))
	for _, f := range zr.File {
		if err := a.add(keys, &entry{name: f.Name, size: f.UncompressedSize64, open: f.Open}); err != nil {
			return nil, err
		}
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
	}
	// Entries whose bytes overlap would let a small zip make a verifier
	// read the same gigabyte again and again.
	sort.Slice(spans, func(i, j int) bool { return spans[i].off < spans[j].off })
	for i := 1; i < len(spans); i++ {
		if spans[i].off < spans[i-1].end {
			return nil, problem(spans[i].name, "ses octets chevauchent ceux de %q", "its bytes overlap those of %q", spans[i-1].name)
		}
	}
	return a, a.readManifest()
}

// entry is a file of a bundle: a zip entry or a file of an unzipped folder.
type entry struct {
	name string
	size uint64
	open func() (io.ReadCloser, error)
}

// add records e, checking its name and that no other entry has the same
// once unzipped (keys holds the names by node.FileNameKey).
func (a *Archive) add(keys map[string]string, e *entry) *Problem {
	if err := checkPath(e.name); err != nil {
		return err
	}
	k := node.FileNameKey(e.name)
	if prev, ok := keys[k]; ok {
		if prev == e.name {
			return problem(e.name, "le paquet contient deux fois ce fichier", "the bundle holds this file twice")
		}
		return problem(e.name, "le paquet contient aussi %q : sur un disque, ils ne feraient qu'un", "the bundle also holds %q: on a disk, they would be one file", prev)
	}
	keys[k] = e.name
	a.list = append(a.list, e)
	a.entries[e.name] = e
	return nil
}

// readManifest reads and checks the manifest and the signature.
func (a *Archive) readManifest() error {
	var err error
	if a.raw, err = a.readSmall(ManifestName, MaxManifestSize); err != nil {
		return err
	}
	if a.signature, err = a.readSmall(SignatureName, MaxSignatureSize); err != nil {
		return err
	}
	return parseManifest(a.raw, &a.manifest)
}

// readSmall reads a generated entry of at most limit bytes.
func (a *Archive) readSmall(name string, limit int64) ([]byte, error) {
	f, ok := a.entries[name]
	if !ok {
		return nil, problem(name, "absent : ce n'est pas un paquet signé", "missing: this is not a signed bundle")
	}
	if f.size > uint64(limit) {
		return nil, problem(name, "%d octets, plus que les %d admis", "%d bytes, more than the %d allowed", f.size, limit)
	}
	rc, err := f.open()
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

// OpenDir checks an unzipped bundle in the folder dir, as Open checks a
// zip: the generated files at its root, one folder per item, only regular
// files (a symbolic link, device, FIFO or socket is refused, nothing is
// read outside dir) and nothing deeper. The files systems leave on a USB
// stick (.DS_Store, ._*, Thumbs.db, desktop.ini, __MACOSX and folders
// whose name starts with a dot, System Volume Information) are left
// aside and listed by Ignored. Close it.
func OpenDir(dir string) (*Archive, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, problem("", "dossier illisible (%v)", "unreadable folder (%v)", err)
	}
	a := &Archive{entries: map[string]*entry{}, root: root}
	keys := map[string]string{}
	walk := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return problem(p, "illisible (%v)", "unreadable (%v)", err)
		}
		if p == "." {
			return nil
		}
		if systemFile(d.Name()) {
			a.ignored = append(a.ignored, p)
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		depth := strings.Count(p, "/") + 1
		switch {
		case d.IsDir() && depth == 1:
			return nil
		case d.IsDir():
			return problem(p, "chemin non admis : plus d'un dossier", "path not allowed: more than one folder")
		case !d.Type().IsRegular():
			return problem(p, "pas un fichier ordinaire (lien, périphérique…) : non lu", "not a regular file (link, device...): not read")
		}
		if len(a.list) >= MaxFiles+2 {
			return problem(p, "plus de %d fichiers", "more than %d files", MaxFiles)
		}
		info, err := d.Info()
		if err != nil {
			return problem(p, "illisible (%v)", "unreadable (%v)", err)
		}
		name := p
		if perr := a.add(keys, &entry{name: name, size: uint64(info.Size()), open: func() (io.ReadCloser, error) {
			f, err := root.Open(name)
			if err != nil {
				return nil, err
			}
			// The name may have become a link or a FIFO since the walk.
			if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
				f.Close()
				return nil, errors.New("not a regular file any more")
			}
			return f, nil
		}}); perr != nil {
			return perr
		}
		return nil
	})
	if walk == nil {
		walk = a.readManifest()
	}
	if walk != nil {
		root.Close()
		var p *Problem
		if !errors.As(walk, &p) {
			return nil, problem("", "dossier illisible (%v)", "unreadable folder (%v)", walk)
		}
		return nil, walk
	}
	return a, nil
}

// systemFile names what operating systems write into a folder they show.
func systemFile(name string) bool {
	switch strings.ToLower(name) {
	case "thumbs.db", "desktop.ini", "__macosx", "system volume information", "$recycle.bin":
		return true
	}
	return strings.HasPrefix(name, ".")
}

// Ignored lists the system files OpenDir left aside.
func (a *Archive) Ignored() []string { return a.ignored }

// Close releases the folder or the file OpenDir or OpenPath opened.
func (a *Archive) Close() error {
	if a.root != nil {
		return a.root.Close()
	}
	if a.file != nil {
		return a.file.Close()
	}
	return nil
}

// OpenPath opens a bundle's zip (a regular file), or the folder it was
// unzipped into. Close it.
func OpenPath(path string) (*Archive, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, problem("", "illisible (%v)", "unreadable (%v)", err)
	}
	if st.IsDir() {
		return OpenDir(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, problem("", "illisible (%v)", "unreadable (%v)", err)
	}
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, problem("", "pas un fichier ordinaire", "not a regular file")
	}
	a, err := Open(f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	a.file = f
	return a, nil
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
	// An unzipped folder is matched with names folded as its disk may
	// have changed them (case on a FAT stick, NFD on an HFS+ Mac).
	key := func(name string) string { return name }
	if a.root != nil {
		key = node.FileNameKey
	}
	listed := make(map[string]ManifestFile, len(a.manifest.Files))
	for _, f := range a.manifest.Files {
		listed[key(f.Path)] = f
	}
	found := map[string]bool{}
	for _, e := range a.list {
		found[key(e.name)] = true
	}
	for _, f := range a.manifest.Files {
		if !found[key(f.Path)] {
			rep.Problems = append(rep.Problems, *problem(f.Path, "absent du paquet", "missing from the bundle"))
		}
	}
	buf := make([]byte, 256<<10)
	for _, zf := range a.list {
		if zf.name == ManifestName || zf.name == SignatureName {
			continue
		}
		want, ok := listed[key(zf.name)]
		if !ok {
			rep.Problems = append(rep.Problems, *problem(zf.name, "fichier absent du manifeste", "file not in the manifest"))
			continue
		}
		if zf.size != uint64(want.Size) {
			rep.Problems = append(rep.Problems, *problem(zf.name, "%d octets, le manifeste en annonce %d", "%d bytes, the manifest says %d", zf.size, want.Size))
			continue
		}
		if err := ctx.Err(); err != nil {
			rep.Problems = append(rep.Problems, *problem(zf.name, "vérification interrompue", "verification stopped"))
			return rep
		}
		got, err := digest(ctx, zf, buf)
		switch {
		case err != nil:
			rep.Problems = append(rep.Problems, *problem(zf.name, "illisible (%v)", "unreadable (%v)", err))
		case got != want.SHA256:
			rep.Problems = append(rep.Problems, *problem(zf.name, "contenu modifié : son SHA-256 n'est pas celui du manifeste", "content changed: its SHA-256 is not the manifest's"))
		default:
			rep.Files++
			rep.Bytes += want.Size
		}
	}
	return rep
}

// digest is the SHA-256 of a stored entry; archive/zip also checks its
// CRC-32 and that it holds no more bytes than declared.
func digest(ctx context.Context, f *entry, buf []byte) (string, error) {
	rc, err := f.open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	// A folder's file may grow while it is read: no more than its size
	// plus one byte is read.
	n, err := io.CopyBuffer(h, ctxReader{ctx, io.LimitReader(rc, int64(f.size)+1)}, buf)
	if err != nil {
		return "", err
	}
	if uint64(n) != f.size {
		return "", fmt.Errorf("changed while read: %d bytes, then %d", f.size, n)
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
