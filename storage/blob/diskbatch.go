package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/communs-numerique/communs/node"
)

var _ node.BatchBlobs = (*Disk)(nil)

// NewBatch starts a group commit of blobs (node.BatchBlobs): bulk imports
// write thousands of small files, and two fsyncs per blob (file, then its
// folder) cost far more than the bytes.
func (d *Disk) NewBatch() (node.BlobBatch, error) {
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, fmt.Errorf("blob batch: %w", err)
	}
	return &diskBatch{d: d, prefix: "batch-" + hex.EncodeToString(r[:]) + "-"}, nil
}

type stagedBlob struct {
	tmp  string // "" once renamed or removed
	sha  string
	size int64
}

// diskBatch writes each blob to a temp file without syncing it. Commit then
// syncs them all, renames them into place and syncs the new names: two
// sync calls for the whole batch (syncfs on Linux). The bytes are durable
// before any name points at them, as with Put, so a blob name never stands
// for bytes a crash could lose.
type diskBatch struct {
	d      *Disk
	prefix string // of the batch's temp files, random: O_EXCL never meets another's
	next   int
	staged []stagedBlob
	placed bool
	dirs   map[string]bool // folders whose entries Place changed
	done   bool
}

// Put writes r to a temp file while hashing it; the blob is stored under
// its digest by Commit.
func (b *diskBatch) Put(ctx context.Context, r io.Reader, wantSHA256 string) (node.Blob, error) {
	if b.done || b.placed {
		return node.Blob{}, errors.New("put blob: batch already placed")
	}
	if wantSHA256 != "" {
		if err := checkDigest("put blob", wantSHA256); err != nil {
			return node.Blob{}, err
		}
	}
	b.next++
	name := filepath.Join(b.d.tmp, b.prefix+strconv.Itoa(b.next))
	// Small blobs are the point of a batch: a bare descriptor saves the
	// poller registration os.File attempts on every regular file.
	f, err := createFile(name)
	if err != nil {
		return node.Blob{}, fmt.Errorf("put blob: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
			os.Remove(name)
		}
	}()
	got, size, err := copyHashed(ctx, f, r, wantSHA256)
	if err != nil {
		return node.Blob{}, err
	}
	if err := f.Close(); err != nil {
		return node.Blob{}, fmt.Errorf("put blob: close temp file: %w", err)
	}
	keep = true
	b.staged = append(b.staged, stagedBlob{tmp: name, sha: got, size: size})
	return node.Blob{SHA256: got, Size: size}, nil
}

// Discard removes the last staged copy of the digest. After Place the
// blob is stored: Discard then only forgets it and reports false.
func (b *diskBatch) Discard(sha256 string) bool {
	for i := len(b.staged) - 1; i >= 0; i-- {
		if b.staged[i].sha == sha256 {
			tmp := b.staged[i].tmp
			b.staged = append(b.staged[:i], b.staged[i+1:]...)
			if tmp == "" {
				return false
			}
			os.Remove(tmp)
			return true
		}
	}
	return false
}

// Abort removes every staged temp file.
func (b *diskBatch) Abort() {
	if b.done {
		return
	}
	b.done = true
	for _, s := range b.staged {
		if s.tmp != "" {
			os.Remove(s.tmp)
		}
	}
	b.staged = nil
}

// Commit places the blobs (if Place was not called) and syncs their
// names. On error the temp files not yet renamed are removed; blobs already
// renamed stay, unreferenced until a publication uses them.
func (b *diskBatch) Commit(ctx context.Context) error {
	if b.done {
		return errors.New("commit blobs: batch already committed")
	}
	defer b.Abort()
	if !b.placed {
		if err := b.Place(ctx); err != nil {
			return err
		}
	}
	if len(b.dirs) == 0 {
		return nil
	}
	// The renames are only durable once the folder entries are on disk.
	list := make([]string, 0, len(b.dirs))
	for d := range b.dirs {
		list = append(list, d)
	}
	if err := syncDirs(b.d.dir, list); err != nil {
		return fmt.Errorf("commit blobs: %w", err)
	}
	return nil
}

// Place syncs the staged bytes and renames them into place. On error the
// batch is aborted (temp files removed).
func (b *diskBatch) Place(ctx context.Context) error {
	if b.done || b.placed {
		return errors.New("place blobs: batch already placed")
	}
	b.placed = true
	if len(b.staged) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		b.Abort()
		return err
	}
	if err := b.place(); err != nil {
		b.Abort()
		return err
	}
	return nil
}

func (b *diskBatch) place() error {
	tmps := make([]string, len(b.staged))
	for i, s := range b.staged {
		tmps[i] = s.tmp
	}
	// Sync before the renames: otherwise a crash could leave a
	// complete-looking name pointing at truncated bytes.
	if err := syncFiles(b.d.dir, tmps); err != nil {
		return fmt.Errorf("commit blobs: sync temp files: %w", err)
	}
	dirs := map[string]bool{}
	b.dirs = dirs
	for i := range b.staged {
		s := &b.staged[i]
		final := b.d.path(s.sha)
		dir := filepath.Dir(final)
		dirs[dir] = true
		// The bytes are verified and synced: renaming over a blob already
		// stored replaces it with identical bytes (or repairs a damaged
		// one), so no stat first. A missing fan-out folder is created on
		// the first failure; it is itself an entry of its parent.
		err := rename(s.tmp, final)
		if errors.Is(err, fs.ErrNotExist) {
			if err = mkdirFanOut(dir); err != nil {
				return fmt.Errorf("commit blobs: %w", err)
			}
			dirs[filepath.Dir(dir)] = true
			dirs[filepath.Dir(filepath.Dir(dir))] = true
			err = rename(s.tmp, final)
		}
		if err != nil {
			return fmt.Errorf("commit blobs: %w", err)
		}
		s.tmp = ""
	}
	return nil
}

// mkdirFanOut creates a blob's folder ab/cd and, when missing, its parent
// ab: one mkdir for most blobs of a fresh store where MkdirAll stats first.
func mkdirFanOut(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(filepath.Dir(dir), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		err = os.Mkdir(dir, 0o755)
	}
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
