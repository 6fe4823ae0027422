// Package backup writes and restores a node's data folder as one tar file:
// a consistent snapshot of the catalog (resources, users, tokens, peers,
// queues), the keys, the config file, and optionally every blob.
package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/communs-numerique/communs/node"
)

// Snapshotter is the catalog: WriteTo copies a consistent snapshot while
// writers keep going (a bbolt read transaction).
type Snapshotter interface {
	WriteTo(w io.Writer) (int64, error)
}

// Manifest is the first entry of a backup.
type Manifest struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	Files   bool      `json:"files"`
	Blobs   int       `json:"blobs"`
}

// keyFiles are the secrets of a data folder that a restore must bring back:
// without the actor key every peer's follow breaks, without the session key
// every editor is logged out.
var keyFiles = []string{"federation/actor.pem", "session.key"}

// Options says what to include.
type Options struct {
	DataDir string
	// Blobs, when set, adds every stored blob (the --with-files backup).
	Blobs node.Blobs
	// ConfigFile, when set, is copied as config/<its name>.
	ConfigFile string
	// Referenced lists the digests a catalog snapshot file references
	// (catalog.ReferencedBlobs); with Blobs, exactly those are copied.
	Referenced func(snapshot string) ([]string, error)
}

// Write streams a backup to w.
func Write(ctx context.Context, w io.Writer, cat Snapshotter, opt Options) (Manifest, error) {
	man := Manifest{Format: 1, Created: time.Now().UTC(), Files: opt.Blobs != nil}
	tw := tar.NewWriter(w)
	// The catalog snapshot is spooled to a temp file: tar needs its size
	// before its bytes.
	tmp, err := os.CreateTemp(opt.DataDir, ".backup-catalog-*")
	if err != nil {
		return man, fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := cat.WriteTo(tmp); err != nil {
		return man, fmt.Errorf("backup: snapshot the catalog: %w", err)
	}
	// The blobs to copy are those the snapshot references, not what the
	// store holds now: a file replaced during a long backup would
	// otherwise be missing from it, or an orphan be copied for nothing.
	var digests []string
	if opt.Blobs != nil {
		if opt.Referenced == nil {
			return man, errors.New("backup: with files, Referenced is required")
		}
		if err := tmp.Sync(); err != nil {
			return man, err
		}
		if digests, err = opt.Referenced(tmp.Name()); err != nil {
			return man, fmt.Errorf("backup: list the snapshot's files: %w", err)
		}
		man.Blobs = len(digests)
	}
	data, _ := json.MarshalIndent(man, "", "  ")
	if err := addBytes(tw, "MANIFEST.json", data, 0o644); err != nil {
		return man, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return man, err
	}
	if err := addFile(tw, "catalog.db", tmp, 0o600); err != nil {
		return man, err
	}
	for _, k := range keyFiles {
		f, err := os.Open(filepath.Join(opt.DataDir, filepath.FromSlash(k)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return man, fmt.Errorf("backup: %w", err)
		}
		err = addFile(tw, "keys/"+k, f, 0o600)
		f.Close()
		if err != nil {
			return man, err
		}
	}
	if opt.ConfigFile != "" {
		f, err := os.Open(opt.ConfigFile)
		if err != nil {
			return man, fmt.Errorf("backup: config file: %w", err)
		}
		err = addFile(tw, "config/"+filepath.Base(opt.ConfigFile), f, 0o600)
		f.Close()
		if err != nil {
			return man, err
		}
	}
	for _, d := range digests {
		if err := copyBlob(ctx, tw, opt.Blobs, d, man.Created); err != nil {
			return man, err
		}
	}
	return man, tw.Close()
}

func copyBlob(ctx context.Context, tw *tar.Writer, blobs node.Blobs, digest string, at time.Time) error {
	br, err := blobs.Open(ctx, digest)
	if errors.Is(err, node.ErrNotFound) {
		return fmt.Errorf("backup: file %s was deleted while the backup ran; run it again (nothing was written to its final name)", digest)
	}
	if err != nil {
		return fmt.Errorf("backup: read %s: %w", digest, err)
	}
	defer br.Close()
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/" + digest, Mode: 0o600, Size: br.Size(), ModTime: at}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, br); err != nil {
		return fmt.Errorf("backup: copy %s: %w", digest, err)
	}
	return nil
}

func addBytes(tw *tar.Writer, name string, data []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: time.Now()}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func addFile(tw *tar.Writer, name string, f *os.File, mode int64) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: info.Size(), ModTime: info.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Summary is what a restore brought back.
type Summary struct {
	Manifest Manifest
	Keys     []string
	Config   []string
	Blobs    int
}

// Limits on the small entries of a backup: a hostile archive must not fill
// the disk through a "key".
const (
	maxManifest = 64 << 10
	maxSmall    = 1 << 20
)

// ErrRefused wraps every reason a backup is refused; nothing was written
// to the data folder when it is returned.
var ErrRefused = errors.New("backup refused, nothing was restored")

func refuse(format string, args ...any) error {
	return fmt.Errorf("restore: %s: %w", fmt.Sprintf(format, args...), ErrRefused)
}

// Restore unpacks a backup into an empty data folder.
//
// A backup file is outside input (it may have been copied, mailed or
// tampered with), so only the layout Write produces is accepted: the
// manifest first, one catalog snapshot, the known key files, at most one
// config file by base name (.toml or .yaml), and blobs named by a digest
// their bytes match, all as regular files; no other entry, no duplicate,
// no link, no folder. The whole archive is checked in a staging folder
// inside the data folder before anything is moved into place; a refused
// archive leaves the data folder as it was (removed again if restore
// created it). Then blobs go through blobs (the store the restored node
// will use, digest checked again), keys and config are renamed into place,
// and the catalog comes last, so an interrupted restore never leaves a
// folder that looks complete.
func Restore(ctx context.Context, r io.Reader, dataDir string, blobs func() (node.Blobs, error)) (sum Summary, err error) {
	if _, err := os.Stat(filepath.Join(dataDir, "catalog.db")); err == nil {
		return sum, fmt.Errorf("%s already holds a catalog: restore into an empty data folder (nothing was changed)", dataDir)
	}
	_, statErr := os.Stat(dataDir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return sum, err
	}
	staging, err := os.MkdirTemp(dataDir, ".restore-")
	if err != nil {
		return sum, err
	}
	defer func() {
		os.RemoveAll(staging)
		if err != nil && created {
			os.Remove(dataDir) // only if still empty
		}
	}()
	st, err := stage(r, staging)
	if err != nil {
		return sum, err
	}
	sum.Manifest = st.manifest

	// Everything checked out: move into place.
	if len(st.blobs) > 0 {
		store, err := blobs()
		if err != nil {
			return sum, err
		}
		for _, d := range st.blobs {
			if err := putStaged(ctx, store, filepath.Join(staging, "blobs", d), d); err != nil {
				return sum, err
			}
			sum.Blobs++
		}
	}
	for _, k := range st.keys {
		dst := filepath.Join(dataDir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return sum, err
		}
		if err := syncedRename(filepath.Join(staging, "keys", stagedKey(k)), dst); err != nil {
			return sum, err
		}
		sum.Keys = append(sum.Keys, k)
	}
	if st.config != "" {
		dst := filepath.Join(dataDir, st.config)
		if err := syncedRename(filepath.Join(staging, "config"), dst); err != nil {
			return sum, err
		}
		sum.Config = append(sum.Config, dst)
	}
	if err := syncedRename(filepath.Join(staging, "catalog.db"), filepath.Join(dataDir, "catalog.db")); err != nil {
		return sum, err
	}
	return sum, nil
}

// staged is what a checked archive holds.
type staged struct {
	manifest Manifest
	keys     []string
	config   string // base name
	blobs    []string
}

// stage reads the whole archive into dir, checking each entry against the
// layout Write produces.
func stage(r io.Reader, dir string) (staged, error) {
	var st staged
	if err := os.Mkdir(filepath.Join(dir, "keys"), 0o700); err != nil {
		return st, err
	}
	if err := os.Mkdir(filepath.Join(dir, "blobs"), 0o700); err != nil {
		return st, err
	}
	tr := tar.NewReader(r)
	seen := map[string]bool{}
	haveCatalog := false
	for first := true; ; first = false {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, refuse("unreadable archive (%v)", err)
		}
		name := h.Name
		if first && name != "MANIFEST.json" {
			return st, refuse("not a Communs backup (first entry %q, want MANIFEST.json)", name)
		}
		if h.Typeflag != tar.TypeReg {
			return st, refuse("entry %q is %s; a backup holds regular files only", name, typeName(h.Typeflag))
		}
		for k := range h.PAXRecords {
			// A PAX sparse entry is a regular file to archive/tar, which
			// expands its holes: a few bytes of archive could write
			// terabytes of zeros. Write never produces one.
			if strings.HasPrefix(k, "GNU.sparse.") {
				return st, refuse("entry %q is a sparse file; a backup holds plain files only", name)
			}
		}
		if seen[name] {
			return st, refuse("entry %q appears twice", name)
		}
		seen[name] = true
		switch {
		case name == "MANIFEST.json":
			if !first {
				return st, refuse("MANIFEST.json must be the first entry")
			}
			data, err := readSmall(tr, name, maxManifest)
			if err != nil {
				return st, err
			}
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&st.manifest); err != nil || st.manifest.Format != 1 || st.manifest.Blobs < 0 {
				return st, refuse("unreadable or unknown manifest (format %d)", st.manifest.Format)
			}
		case name == "catalog.db":
			if err := writeStaged(filepath.Join(dir, "catalog.db"), tr, h.Size, ""); err != nil {
				return st, err
			}
			if err := checkCatalog(filepath.Join(dir, "catalog.db")); err != nil {
				return st, err
			}
			haveCatalog = true
		case strings.HasPrefix(name, "keys/"):
			k := strings.TrimPrefix(name, "keys/")
			if !slices.Contains(keyFiles, k) {
				return st, refuse("unknown key entry %q (known: %s)", name, strings.Join(keyFiles, ", "))
			}
			if h.Size > maxSmall {
				return st, refuse("key %q is larger than %d bytes", name, maxSmall)
			}
			if err := writeStaged(filepath.Join(dir, "keys", stagedKey(k)), tr, h.Size, ""); err != nil {
				return st, err
			}
			st.keys = append(st.keys, k)
		case strings.HasPrefix(name, "config/"):
			base := strings.TrimPrefix(name, "config/")
			if node.ValidateFileName(base) != nil || !configExt(base) {
				return st, refuse("config entry %q must be one file name ending in .toml, .yaml or .yml", name)
			}
			if st.config != "" {
				return st, refuse("more than one config file (%q)", name)
			}
			if h.Size > maxSmall {
				return st, refuse("config %q is larger than %d bytes", name, maxSmall)
			}
			if err := writeStaged(filepath.Join(dir, "config"), tr, h.Size, ""); err != nil {
				return st, err
			}
			st.config = base
		case strings.HasPrefix(name, "blobs/"):
			d := strings.TrimPrefix(name, "blobs/")
			if !isDigest(d) {
				return st, refuse("blob entry %q is not named by a sha256 digest", name)
			}
			if err := writeStaged(filepath.Join(dir, "blobs", d), tr, h.Size, d); err != nil {
				return st, err
			}
			st.blobs = append(st.blobs, d)
		default:
			return st, refuse("unknown entry %q", name)
		}
	}
	switch {
	case len(seen) == 0:
		return st, refuse("empty archive")
	case !haveCatalog:
		return st, refuse("the backup holds no catalog")
	case !st.manifest.Files && len(st.blobs) > 0:
		return st, refuse("the manifest says the backup holds no files but it holds %d", len(st.blobs))
	case st.manifest.Files && len(st.blobs) != st.manifest.Blobs:
		return st, refuse("the manifest lists %d files but the backup holds %d (truncated?)", st.manifest.Blobs, len(st.blobs))
	}
	return st, nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "a symbolic link"
	case tar.TypeLink:
		return "a hard link"
	case tar.TypeDir:
		return "a folder"
	case tar.TypeChar, tar.TypeBlock:
		return "a device"
	case tar.TypeFifo:
		return "a named pipe"
	}
	return fmt.Sprintf("of type %q", t)
}

// stagedKey flattens a key's path for the staging folder.
func stagedKey(k string) string { return strings.ReplaceAll(k, "/", "_") }

func configExt(base string) bool {
	switch strings.ToLower(filepath.Ext(base)) {
	case ".toml", ".yaml", ".yml":
		return true
	}
	return false
}

func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func readSmall(r io.Reader, name string, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, refuse("read %s: %v", name, err)
	}
	if int64(len(data)) > limit {
		return nil, refuse("%s is larger than %d bytes", name, limit)
	}
	return data, nil
}

// writeStaged copies one entry to a new file; with digest, the bytes must
// hash to it.
func writeStaged(dst string, r io.Reader, size int64, digest string) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	// No fsync here: a refused archive is thrown away, and what is kept is
	// synced just before it is moved into place (syncedRename).
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return refuse("read %s: %v", filepath.Base(dst), err)
	}
	if n != size {
		return refuse("entry %s is truncated", filepath.Base(dst))
	}
	if digest != "" && hex.EncodeToString(h.Sum(nil)) != digest {
		return refuse("blob %s: its bytes do not match its digest", digest)
	}
	return nil
}

// checkCatalog refuses a catalog entry that is not a bbolt database: the
// meta page starts with bbolt's magic and version 2 (in either byte order,
// bbolt writes the machine's).
func checkCatalog(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var head [24]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return refuse("catalog.db is not a catalog database")
	}
	const magic, version = 0xED0CDAED, 2
	le := binary.LittleEndian.Uint32(head[16:]) == magic && binary.LittleEndian.Uint32(head[20:]) == version
	be := binary.BigEndian.Uint32(head[16:]) == magic && binary.BigEndian.Uint32(head[20:]) == version
	if !le && !be {
		return refuse("catalog.db is not a catalog database")
	}
	return nil
}

func putStaged(ctx context.Context, store node.Blobs, p, digest string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := store.Put(ctx, f, digest); err != nil {
		return fmt.Errorf("restore: blob %s: %w", digest, err)
	}
	return nil
}

// syncedRename makes a staged file durable, then moves it into place.
func syncedRename(src, dst string) error {
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(src, dst)
}
