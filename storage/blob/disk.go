package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/communs-numerique/communs/node"
)

const (
	tmpDirName = "tmp"
	// staleTemp is how old an abandoned temp file must be before NewDisk
	// removes it. A live Put keeps writing, so its mtime stays fresh even
	// for a slow multi-gigabyte upload.
	staleTemp = time.Hour
	copyBuf   = 256 << 10
)

// A pool keeps the copy buffers of concurrent Puts instead of new ones per call.
var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBuf); return &b }}

// Disk stores blobs as files under one directory, at dir/ab/cd/<sha256>.
// The two fan-out levels keep directories small enough for any filesystem.
type Disk struct {
	dir string
	tmp string
}

var _ node.Blobs = (*Disk)(nil)

// NewDisk opens (creating if needed) a blob directory and removes temp files
// left behind by a crash more than an hour ago.
func NewDisk(dir string) (*Disk, error) {
	if dir == "" {
		return nil, errors.New("disk blob store: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("disk blob store: %w", err)
	}
	d := &Disk{dir: abs, tmp: filepath.Join(abs, tmpDirName)}
	if err := os.MkdirAll(d.tmp, 0o755); err != nil {
		return nil, fmt.Errorf("disk blob store: %w", err)
	}
	if err := d.cleanTemp(time.Now().Add(-staleTemp)); err != nil {
		return nil, fmt.Errorf("disk blob store: %w", err)
	}
	return d, nil
}

func (d *Disk) cleanTemp(before time.Time) error {
	entries, err := os.ReadDir(d.tmp)
	if err != nil {
		return fmt.Errorf("clean temp files: %w", err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(before) {
			continue // vanished meanwhile, or maybe still being written
		}
		p := filepath.Join(d.tmp, e.Name())
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("clean temp files: %w", err)
		}
		slog.Info("removed stale blob temp file", "path", p, "modified", info.ModTime())
	}
	return nil
}

func (d *Disk) path(sha string) string {
	return filepath.Join(d.dir, sha[0:2], sha[2:4], sha)
}

// Put writes r to a temp file while hashing it and renames it into place
// only once it is complete, synced and verified.
func (d *Disk) Put(ctx context.Context, r io.Reader, wantSHA256 string) (blob node.Blob, err error) {
	if wantSHA256 != "" {
		if err := checkDigest("put blob", wantSHA256); err != nil {
			return node.Blob{}, err
		}
	}
	f, err := os.CreateTemp(d.tmp, "put-*")
	if err != nil {
		return node.Blob{}, fmt.Errorf("put blob: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	got, size, err := copyHashed(ctx, withWriteback(f), r, wantSHA256)
	if err != nil {
		return node.Blob{}, err
	}
	// Sync before the rename: otherwise a crash could leave a complete-looking
	// name pointing at truncated bytes.
	if err := f.Sync(); err != nil {
		return node.Blob{}, fmt.Errorf("put blob: sync temp file: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return node.Blob{}, fmt.Errorf("put blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return node.Blob{}, fmt.Errorf("put blob: close temp file: %w", err)
	}
	blob = node.Blob{SHA256: got, Size: size}

	final := d.path(got)
	if info, err := os.Stat(final); err == nil && info.Size() == size {
		return blob, nil // same bytes already stored; the deferred cleanup drops ours
	}
	// A file of the wrong size under that digest is damaged (truncated by a
	// disk fault or edited behind our back): the fresh, verified copy below
	// replaces it.
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return node.Blob{}, fmt.Errorf("put blob: %w", err)
	}
	// Concurrent Puts of the same bytes may both rename: rename replaces
	// atomically and the contents are identical, so either winner is right.
	if err := os.Rename(f.Name(), final); err != nil {
		return node.Blob{}, fmt.Errorf("put blob: %w", err)
	}
	committed = true
	// The rename is only durable once the directory entry is on disk.
	if err := syncDir(dir); err != nil {
		return node.Blob{}, fmt.Errorf("put blob: %w", err)
	}
	return blob, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

type diskReader struct {
	*os.File
	size int64
}

func (r *diskReader) Size() int64 { return r.size }

// OSFile exposes the file so downloads can be sent with sendfile(2)
// (web looks for this method).
func (r *diskReader) OSFile() *os.File { return r.File }

// Open returns a reader backed by the blob's file.
func (d *Disk) Open(ctx context.Context, sha256 string) (node.BlobReader, error) {
	if err := checkDigest("open blob", sha256); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(sha256))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open blob %s: %w", sha256, node.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return &diskReader{File: f, size: info.Size()}, nil
}

// Stat returns the blob's size.
func (d *Disk) Stat(ctx context.Context, sha256 string) (int64, error) {
	if err := checkDigest("stat blob", sha256); err != nil {
		return 0, err
	}
	info, err := os.Stat(d.path(sha256))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("stat blob %s: %w", sha256, node.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("stat blob: %w", err)
	}
	return info.Size(), nil
}

// Delete removes the blob's file; a missing blob is not an error.
func (d *Disk) Delete(ctx context.Context, sha256 string) error {
	if err := checkDigest("delete blob", sha256); err != nil {
		return err
	}
	if err := os.Remove(d.path(sha256)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob: %w", err)
	}
	return nil
}

// Walk calls fn for every blob, in lexical digest order. Files that are not
// where a blob would be (temp files, strays) are skipped. An error from fn
// stops the walk and is returned unchanged, so callers can stop early with
// their own sentinel.
func (d *Disk) Walk(ctx context.Context, fn func(node.Blob) error) error {
	var fnErr error
	err := filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			if p == d.tmp {
				return filepath.SkipDir
			}
			return nil
		}
		name := e.Name()
		if !e.Type().IsRegular() || !validDigest(name) || p != d.path(name) {
			return nil
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while walking
		}
		if err != nil {
			return err
		}
		fnErr = fn(node.Blob{SHA256: name, Size: info.Size()})
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("walk blobs: %w", err)
	}
	return nil
}
