// Package catalog stores a node's resources, blob reference counts, change
// feed, users and tokens in a single bbolt file, so that one transaction can
// keep all of them consistent with each other.
package catalog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/communs-numerique/communs/node"
)

var (
	_ node.Catalog    = (*Store)(nil)
	_ node.ChangeFeed = (*Store)(nil)
	_ node.Accounts   = (*Store)(nil)
	_ node.Reports    = (*Store)(nil)
)

// ErrLocked reports that another process (usually `communs serve`) holds the
// catalog. bbolt allows a single writer per file, so the CLI uses this to
// point the user at the running node instead of failing obscurely.
var ErrLocked = errors.New("locked by another process")

// ErrNewerSchema reports a catalog written by a newer communs: reading it
// with older code could silently drop or corrupt what it does not know.
var ErrNewerSchema = errors.New("catalog schema is newer than this program")

// schemaVersion is bumped whenever the layout of the buckets changes in a way
// older code would misread.
const schemaVersion = 1

// lockTimeout bounds the wait for bbolt's file lock: without it a second
// process would hang forever behind a running node.
const lockTimeout = time.Second

var (
	bucketMeta      = []byte("meta")
	bucketResources = []byte("resources")
	bucketByCreated = []byte("by_created")
	bucketBlobRefs  = []byte("blobrefs")
	bucketChanges   = []byte("changes")
	bucketCursors   = []byte("cursors")
	bucketUsers     = []byte("users")
	bucketTokens    = []byte("tokens")
	// bucketReports holds reports by id; bucketOpenReports indexes the
	// open ones by resource (resource id, 0, report id), to bound them.
	bucketReports     = []byte("reports")
	bucketOpenReports = []byte("open_reports")

	keySchema = []byte("schema")

	allBuckets = [][]byte{bucketMeta, bucketResources, bucketByCreated, bucketBlobRefs,
		bucketChanges, bucketCursors, bucketUsers, bucketTokens, bucketOrgs, bucketOrgResources, bucketDownloads,
		bucketReports, bucketOpenReports}
)

// Store is the bbolt catalog. It implements node.Catalog and node.Accounts
// and is safe for concurrent use.
type Store struct {
	db   *bbolt.DB
	path string
}

// Open opens the catalog at path, creating the file (and its folder) when
// missing.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("catalog %s is %w (is `communs serve` running?)", path, ErrLocked)
		}
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init creates missing buckets, checks the schema version and counts the
// resources if needed (see keyCounts) in the same transaction, so a refused
// file is left untouched.
func (s *Store) init() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			if v := meta.Get(keySchema); len(v) == 8 {
				if got := binary.BigEndian.Uint64(v); got > schemaVersion {
					return fmt.Errorf("catalog %s has schema version %d but this communs only knows up to %d; upgrade communs: %w",
						s.path, got, schemaVersion, ErrNewerSchema)
				}
			}
		}
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("catalog %s: create bucket %s: %w", s.path, name, err)
			}
		}
		if err := tx.Bucket(bucketMeta).Put(keySchema, u64(schemaVersion)); err != nil {
			return err
		}
		return initCounts(tx)
	})
}

// Close releases the file and its lock. Closing twice is harmless.
func (s *Store) Close() error { return s.db.Close() }

// Path is the catalog file's path as given to Open.
func (s *Store) Path() string { return s.path }

// DB exposes the bbolt handle for backups and admin tools that need raw
// access; writers through it bypass the catalog's invariants.
func (s *Store) DB() *bbolt.DB { return s.db }

// WriteTo writes a consistent copy of the whole file while writers keep
// going, since a read transaction sees a frozen snapshot.
func (s *Store) WriteTo(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// readU64 treats a malformed value as zero rather than failing: counters and
// cursors are recoverable (a worker replays, doctor recounts) while an error
// would block every write touching them.
func readU64(v []byte) uint64 {
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// ReferencedBlobs lists the digests a catalog file references, opening it
// read-only: a backup reads them from its own snapshot, so the blobs it
// copies are exactly those the snapshot's resources point at.
func ReferencedBlobs(path string) ([]string, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open catalog snapshot %s: %w", path, err)
	}
	defer db.Close()
	var out []string
	err = db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketBlobRefs)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if readU64(v) > 0 {
				out = append(out, string(k))
			}
			return nil
		})
	})
	return out, err
}
