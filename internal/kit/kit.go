// Package kit reads kit folders (a resource.json beside the files it lists)
// and imports them into a node, locally or through the admin socket.
package kit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/communs-numerique/communs/node"
)

// File is a files entry of resource.json.
type File struct {
	Name      string `json:"name"`
	MediaType string `json:"media_type"`
	Size      *int64 `json:"size"`
	SHA256    string `json:"sha256,omitempty"`
}

// Meta is resource.json: the fields of the shared corpus. internal/corpus
// writes kits with this same type, so reader and writer cannot drift.
type Meta struct {
	ID string `json:"id"`
	node.Metadata
	Files []File `json:"files"`
}

// Kit is a parsed kit folder.
type Kit struct {
	Dir  string
	Meta Meta
	// d is the folder kept open by a bulk import (readOpen): its files are
	// then opened from it, and checked as they are read.
	d *os.File
}

// Resource is the kit's metadata as a resource without files.
func (k Kit) Resource() node.Resource {
	return node.Resource{ID: k.Meta.ID, Metadata: k.Meta.Metadata}
}

// maxMetadata bounds resource.json: the longest valid metadata is far
// smaller, and a kit folder is outside input.
const maxMetadata = 1 << 20

var errSymlink = errors.New("is a symbolic link; links are not followed (a kit must hold its files)")

// Read parses and checks one kit folder: resource.json must decode with no
// unknown field, and every listed file must be there with the listed size.
//
// A kit folder is outside input, read with the importing user's rights:
// nothing in it may make import read a file elsewhere (session.key, the
// actor key) and serve it. So the folder and every file in it are opened
// without following symbolic links (openat with O_NOFOLLOW from the
// folder's own descriptor, no check-then-open race), and only regular files
// with a single link are read: symbolic links, hard links, folders, devices,
// named pipes (which would block the import) and sockets are refused, each
// with its reason. File names are one path component (node.ValidateFileName),
// so nothing resolves outside the folder.
func Read(dir string) (Kit, error) {
	k, err := readOpen(dir)
	if err != nil {
		return k, err
	}
	for _, f := range k.Meta.Files {
		fh, _, err := k.openFile(f)
		if err != nil {
			k.close()
			return k, err
		}
		fh.Close()
	}
	k.close()
	return k, nil
}

// readOpen parses resource.json and checks the file names, keeping the
// folder open for the files; it does not open them: Uploads checks each
// file as it opens it, with the same rules and messages as Read. The
// caller closes the kit.
func readOpen(dir string) (Kit, error) {
	k := Kit{Dir: dir}
	d, err := openDir(dir)
	if err != nil {
		return k, fmt.Errorf("kit folder: %w", err)
	}
	k.d = d
	ok := false
	defer func() {
		if !ok {
			k.close()
		}
	}()
	data, err := readMeta(d)
	if err != nil {
		return k, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&k.Meta); err != nil {
		return k, fmt.Errorf("resource.json is not valid: %w", err)
	}
	if k.Meta.ID == "" {
		k.Meta.ID = filepath.Base(dir)
	}
	if len(k.Meta.Files) == 0 {
		return k, errors.New("resource.json lists no files")
	}
	names := make([]string, 0, len(k.Meta.Files))
	for _, f := range k.Meta.Files {
		if err := node.ValidateFileName(f.Name); err != nil {
			return k, err
		}
		names = append(names, f.Name)
	}
	if err := node.CheckFileNamesDistinct(names); err != nil {
		return k, err
	}
	ok = true
	return k, nil
}

// close closes the folder readOpen kept open.
func (k *Kit) close() {
	if k.d != nil {
		k.d.Close()
		k.d = nil
	}
}

// openFile opens one of the kit's files from its open folder, refusing
// anything Read refuses: missing, not a regular file with one link, or not
// the size resource.json says.
func (k Kit) openFile(f File) (io.ReadCloser, int64, error) {
	fh, size, err := openFile(k.d, f.Name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("file %q listed in resource.json is missing from the folder", f.Name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("file %q %w", f.Name, err)
	}
	if f.Size != nil && *f.Size != size {
		fh.Close()
		return nil, 0, fmt.Errorf("file %q is %d bytes but resource.json says %d", f.Name, size, *f.Size)
	}
	return fh, size, nil
}

func readMeta(d *os.File) ([]byte, error) {
	fh, _, err := openIn(d, "resource.json")
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("no resource.json in this folder")
	}
	if err != nil {
		return nil, fmt.Errorf("resource.json %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("read resource.json: %w", err)
	}
	if len(data) > maxMetadata {
		return nil, fmt.Errorf("resource.json is larger than %d bytes", maxMetadata)
	}
	return data, nil
}

// withDir runs fn with the kit's folder open: the one readOpen kept, or
// the folder opened again (a Kit from Read).
func (k Kit) withDir(fn func(k Kit) error) error {
	if k.d == nil {
		d, err := openDir(k.Dir)
		if err != nil {
			return fmt.Errorf("kit folder: %w", err)
		}
		defer d.Close()
		k.d = d
	}
	return fn(k)
}

// Uploads streams the kit's files one after the other, each checked as
// Read checks it.
func (k Kit) Uploads() node.Uploads {
	return func(yield func(node.Upload) error) error {
		return k.withDir(func(k Kit) error {
			for _, f := range k.Meta.Files {
				if err := func() error {
					fh, size, err := k.openFile(f)
					if err != nil {
						return err
					}
					defer fh.Close()
					return yield(node.Upload{Name: f.Name, MediaType: f.MediaType, Body: fh, Size: size, SHA256: f.SHA256})
				}(); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

// Backend is where kits are imported: a node.Service, or the admin socket's
// client while the server runs.
type Backend interface {
	Get(ctx context.Context, id string) (node.Resource, error)
	Publish(ctx context.Context, r node.Resource, files node.Uploads, replace bool) (node.Resource, error)
}

// Outcome of one kit.
type Outcome string

const (
	Imported  Outcome = "imported"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	Refused   Outcome = "refused"
)

// Result reports one kit.
type Result struct {
	Dir     string
	ID      string
	Outcome Outcome
	Err     error
}

// Summary counts the outcomes of an import.
type Summary map[Outcome]int

func (s Summary) String() string {
	return fmt.Sprintf("%d imported, %d updated, %d unchanged, %d refused", s[Imported], s[Updated], s[Unchanged], s[Refused])
}

// Folders lists the kit folders under root, sorted, or root itself when it
// is a kit folder. Root is the operator's choice and may be a symbolic
// link; below it, a symbolic link to a folder is listed so that Import
// refuses it with its reason rather than skipping it silently.
func Folders(root string) ([]string, error) {
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real
	}
	if _, err := os.Lstat(filepath.Join(root, "resource.json")); err == nil {
		return []string{root}, nil
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("read import folder: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if e.Name()[0] == '.' {
			continue
		}
		p := filepath.Join(root, e.Name())
		if e.IsDir() {
			dirs = append(dirs, p)
		} else if e.Type()&os.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				dirs = append(dirs, p)
			}
		}
	}
	sort.Strings(dirs)
	return dirs, nil
}

// Import imports one kit folder. Running it twice changes nothing: a kit
// whose metadata and file digests match the stored resource is unchanged,
// one that differs replaces it in one step.
func Import(ctx context.Context, b Backend, dir string) Result {
	res, k, exists, ok := check(ctx, b, dir, Read)
	if !ok {
		return res
	}
	if _, err := b.Publish(ctx, k.Resource(), k.Uploads(), exists); err != nil {
		res.Outcome, res.Err = Refused, err
		return res
	}
	res.Outcome = Imported
	if exists {
		res.Outcome = Updated
	}
	return res
}

// check reads a kit folder with read (Read, or readOpen whose kit the
// caller closes) and compares it with the stored resource. ok says the kit
// is to be published (replacing the stored one when exists); otherwise res
// is its outcome (refused or unchanged).
func check(ctx context.Context, b Backend, dir string, read func(string) (Kit, error)) (res Result, k Kit, exists, ok bool) {
	res = Result{Dir: dir, ID: filepath.Base(dir)}
	k, err := read(dir)
	if k.Meta.ID != "" {
		res.ID = k.Meta.ID
	}
	if err != nil {
		res.Outcome, res.Err = Refused, err
		return res, k, false, false
	}
	existing, err := b.Get(ctx, k.Meta.ID)
	exists = err == nil
	if err != nil && !errors.Is(err, node.ErrNotFound) && !errors.Is(err, node.ErrInvalid) {
		res.Outcome, res.Err = Refused, err
		return res, k, false, false
	}
	if exists {
		same, err := k.sameAs(existing)
		if err != nil {
			res.Outcome, res.Err = Refused, err
			return res, k, exists, false
		}
		if same {
			res.Outcome = Unchanged
			return res, k, exists, false
		}
	}
	return res, k, exists, true
}

// sameAs compares the kit with a stored resource, hashing local files only
// when names and sizes already agree.
func (k Kit) sameAs(r node.Resource) (bool, error) {
	want := k.Resource()
	want.Normalize()
	if want.Language == "" {
		want.Language = r.Language
	}
	// The node gives every local resource its own hub name, whatever
	// the kit says: the kit's hub is not compared.
	want.Hub = r.Hub
	if want.Published == "" {
		want.Published = r.Published
	}
	// A kit naming no organisation keeps the one an admin assigned.
	if want.Organisation == "" {
		want.Organisation = r.Organisation
	}
	if want.Organisation != r.Organisation || want.Title != r.Title || want.Summary != r.Summary || want.Description != r.Description ||
		want.Kind != r.Kind || want.Level != r.Level || want.License != r.License || want.Language != r.Language ||
		want.Hub != r.Hub || want.Published != r.Published || !slices.Equal(want.Themes, r.Themes) ||
		!slices.Equal(want.Audience, r.Audience) || !slices.Equal(want.Authors, r.Authors) ||
		len(k.Meta.Files) != len(r.Files) {
		return false, nil
	}
	same := true
	err := k.withDir(func(k Kit) error {
		for i, f := range k.Meta.Files {
			ok, err := k.sameFile(f, r.Files[i])
			if err != nil || !ok {
				same = false
				return err
			}
		}
		return nil
	})
	return same && err == nil, err
}

func (k Kit) sameFile(f File, stored node.File) (bool, error) {
	fh, size, err := k.openFile(f)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	if stored.Name != f.Name || stored.Size != size {
		return false, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return false, fmt.Errorf("file %q: %w", f.Name, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == stored.SHA256, nil
}
