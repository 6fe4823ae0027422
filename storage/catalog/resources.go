package catalog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

const (
	defaultListLimit = 50
	maxListLimit     = 1000
)

// Values of the by_created index. Keeping the origin there lets List filter
// and look ahead for a next page without decoding resources it will not
// return.
var (
	originLocal  = []byte{'l'}
	originRemote = []byte{'r'}
)

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// createdKey orders the by_created index. Nanoseconds are clamped to what an
// int64 holds (the zero time would otherwise overflow to an arbitrary value)
// and the sign bit is flipped so that times before 1970 sort before later
// ones in bbolt's bytewise order. The id suffix keeps keys unique when two
// resources share a creation time.
func createdKey(t time.Time, id string) []byte {
	var n int64
	switch {
	case t.Before(minNanoTime):
		n = math.MinInt64
	case t.After(maxNanoTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	k := make([]byte, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(n)^(1<<63))
	copy(k[8:], id)
	return k
}

func originValue(r *node.Resource) []byte {
	if r.Local() {
		return originLocal
	}
	return originRemote
}

// Get returns the resource with this id, or node.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (node.Resource, error) {
	if err := ctx.Err(); err != nil {
		return node.Resource{}, err
	}
	var r node.Resource
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		r, err = getResource(tx, id)
		return err
	})
	return r, err
}

func getResource(tx *bbolt.Tx, id string) (node.Resource, error) {
	var r node.Resource
	data := tx.Bucket(bucketResources).Get([]byte(id))
	if data == nil {
		return r, fmt.Errorf("resource %q: %w", id, node.ErrNotFound)
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("resource %q: decode stored record: %w", id, err)
	}
	return r, nil
}

// List returns a page of resources, newest created first, and the cursor of
// the next page ("" when there is none). The cursor is the last index key
// returned, so pages stay stable while resources are added or removed.
func (s *Store) List(ctx context.Context, opt node.ListOptions) ([]node.Resource, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	limit := opt.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	var want []byte
	switch opt.Origin {
	case "":
	case "local":
		want = originLocal
	case "remote":
		want = originRemote
	default:
		return nil, "", fmt.Errorf("origin %q: use local, remote or nothing: %w", opt.Origin, node.ErrInvalid)
	}
	var after []byte
	if opt.After != "" {
		var err error
		after, err = base64.RawURLEncoding.DecodeString(opt.After)
		if err != nil || len(after) < 8 {
			return nil, "", fmt.Errorf("page cursor %q is not one this node returned: %w", opt.After, node.ErrInvalid)
		}
	}

	var out []node.Resource
	var next string
	err := s.db.View(func(tx *bbolt.Tx) error {
		res := tx.Bucket(bucketResources)
		c := tx.Bucket(bucketByCreated).Cursor()
		var k, v []byte
		if after == nil {
			k, v = c.Last()
		} else {
			// The cursor's own key may have been deleted since: start from
			// the first key strictly older than it either way.
			k, v = c.Seek(after)
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && bytes.Compare(k, after) >= 0 {
				k, v = c.Prev()
			}
		}
		var last []byte
		for ; k != nil; k, v = c.Prev() {
			if want != nil && !bytes.Equal(v, want) {
				continue
			}
			if len(out) == limit {
				next = base64.RawURLEncoding.EncodeToString(last)
				break
			}
			id := string(k[8:])
			data := res.Get(k[8:])
			if data == nil {
				return fmt.Errorf("catalog %s: index by_created names resource %q which does not exist", s.path, id)
			}
			var r node.Resource
			if err := json.Unmarshal(data, &r); err != nil {
				return fmt.Errorf("resource %q: decode stored record: %w", id, err)
			}
			out = append(out, r)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// Create stores a new resource, counts references to its blobs and appends
// a change, all in one transaction.
func (s *Store) Create(ctx context.Context, r node.Resource) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.ID == "" {
		return fmt.Errorf("resource id: required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketResources).Get([]byte(r.ID)) != nil {
			return fmt.Errorf("resource %q already exists: %w", r.ID, node.ErrConflict)
		}
		if err := indexOrganisation(tx, nil, &r); err != nil {
			return err
		}
		if err := recordRevision(ctx, tx, nil, &r); err != nil {
			return err
		}
		if err := putResource(tx, &r); err != nil {
			return err
		}
		if _, err := adjustRefs(tx, nil, r.Files); err != nil {
			return err
		}
		if err := appendChange(tx, r.ID, false); err != nil {
			return err
		}
		var d countDelta
		d.add(nil, &r)
		return d.apply(tx)
	})
}

// Update applies fn to the stored resource. When fn fails, nothing is
// written and its error is returned as is, so callers can match their own
// sentinel errors.
func (s *Store) Update(ctx context.Context, id string, fn func(*node.Resource) error) (node.Resource, []string, error) {
	if err := ctx.Err(); err != nil {
		return node.Resource{}, nil, err
	}
	var out node.Resource
	var orphans []string
	err := s.db.Update(func(tx *bbolt.Tx) error {
		old, err := getResource(tx, id)
		if err != nil {
			return err
		}
		// fn gets its own copy: it may modify slices in place, and the
		// reference diff needs the old files untouched.
		cur, err := getResource(tx, id)
		if err != nil {
			return err
		}
		if err := fn(&cur); err != nil {
			return err
		}
		if cur.ID != old.ID {
			return fmt.Errorf("resource %q: an update may not change the id (to %q): %w", id, cur.ID, node.ErrInvalid)
		}
		if oldKey, newKey := createdKey(old.Created, id), createdKey(cur.Created, id); !bytes.Equal(oldKey, newKey) {
			if err := tx.Bucket(bucketByCreated).Delete(oldKey); err != nil {
				return err
			}
		}
		if err := indexOrganisation(tx, &old, &cur); err != nil {
			return err
		}
		if err := recordRevision(ctx, tx, &old, &cur); err != nil {
			return err
		}
		if err := putResource(tx, &cur); err != nil {
			return err
		}
		if orphans, err = adjustRefs(tx, old.Files, cur.Files); err != nil {
			return err
		}
		out = cur
		if err := appendChange(tx, id, false); err != nil {
			return err
		}
		// The origin may have changed (a copy adopted as local).
		var d countDelta
		d.add(&old, &cur)
		return d.apply(tx)
	})
	if err != nil {
		return node.Resource{}, nil, err
	}
	return out, orphans, nil
}

// UpsertMany creates or replaces several resources in one transaction (a
// page of a backfill: one disk sync instead of fifty). check sees the stored
// version (nil when new) and may refuse an item, which is then skipped and
// its error returned at its index in errs.
func (s *Store) UpsertMany(ctx context.Context, rs []node.Resource, check func(old, r *node.Resource) error) ([]string, []error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var orphans []string
	var errs []error
	err := s.db.Update(func(tx *bbolt.Tx) error {
		orphans, errs = nil, make([]error, len(rs))
		// A replaced resource moves the counts by its origin only: it
		// must not count twice.
		var d countDelta
		for i := range rs {
			r := rs[i]
			if r.ID == "" {
				errs[i] = fmt.Errorf("resource id: required: %w", node.ErrInvalid)
				continue
			}
			var oldp *node.Resource
			old, err := getResource(tx, r.ID)
			switch {
			case err == nil:
				oldp = &old
			case !errors.Is(err, node.ErrNotFound):
				return err
			}
			if err := check(oldp, &r); err != nil {
				errs[i] = err
				continue
			}
			if err := indexOrganisation(tx, oldp, &r); err != nil {
				errs[i] = err
				continue
			}
			var oldFiles []node.File
			if oldp != nil {
				oldFiles = old.Files
				if oldKey, newKey := createdKey(old.Created, r.ID), createdKey(r.Created, r.ID); !bytes.Equal(oldKey, newKey) {
					if err := tx.Bucket(bucketByCreated).Delete(oldKey); err != nil {
						return err
					}
				}
			}
			if err := recordRevision(ctx, tx, oldp, &r); err != nil {
				return err
			}
			rs[i].Version = r.Version // the caller returns what was stored
			if err := putResource(tx, &r); err != nil {
				return err
			}
			o, err := adjustRefs(tx, oldFiles, r.Files)
			if err != nil {
				return err
			}
			orphans = append(orphans, o...)
			if err := appendChange(tx, r.ID, false); err != nil {
				return err
			}
			d.add(oldp, &r)
		}
		return d.apply(tx)
	})
	return orphans, errs, err
}

// Delete removes a resource and returns it with the digests it was the last
// to reference, which the caller may then delete from the blob store.
func (s *Store) Delete(ctx context.Context, id string) (node.Resource, []string, error) {
	if err := ctx.Err(); err != nil {
		return node.Resource{}, nil, err
	}
	var old node.Resource
	var orphans []string
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		if old, err = getResource(tx, id); err != nil {
			return err
		}
		if err := indexOrganisation(tx, &old, nil); err != nil {
			return err
		}
		if err := tx.Bucket(bucketResources).Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketByCreated).Delete(createdKey(old.Created, id)); err != nil {
			return err
		}
		if err := deleteHistory(tx, id); err != nil {
			return err
		}
		if orphans, err = adjustRefs(tx, old.Files, nil); err != nil {
			return err
		}
		if err := dropFromCollections(tx, &old); err != nil {
			return err
		}
		if err := appendChange(tx, id, true); err != nil {
			return err
		}
		var d countDelta
		d.add(&old, nil)
		return d.apply(tx)
	})
	if err != nil {
		return node.Resource{}, nil, err
	}
	return old, orphans, nil
}

// BlobRefs counts the file records pointing at a digest.
func (s *Store) BlobRefs(ctx context.Context, sha256 string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if sha256 == "" {
		return 0, nil
	}
	var n uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = readU64(tx.Bucket(bucketBlobRefs).Get([]byte(sha256)))
		return nil
	})
	return int(n), err
}

// putResource writes the record and its index entry (the origin may have
// changed, so the index value is rewritten every time).
func putResource(tx *bbolt.Tx, r *node.Resource) error {
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("resource %q: encode: %w", r.ID, err)
	}
	if err := tx.Bucket(bucketResources).Put([]byte(r.ID), data); err != nil {
		return fmt.Errorf("resource %q: %w", r.ID, err)
	}
	return tx.Bucket(bucketByCreated).Put(createdKey(r.Created, r.ID), originValue(r))
}

// adjustRefs moves reference counts from the old files to the new ones and
// returns, sorted, the digests left with no reference. Files without a
// digest are remote files that were never mirrored: no blob to count.
func adjustRefs(tx *bbolt.Tx, old, new []node.File) ([]string, error) {
	delta := map[string]int64{}
	for _, f := range old {
		if f.SHA256 != "" {
			delta[f.SHA256]--
		}
	}
	for _, f := range new {
		if f.SHA256 != "" {
			delta[f.SHA256]++
		}
	}
	digests := make([]string, 0, len(delta))
	for d, n := range delta {
		if n != 0 {
			digests = append(digests, d)
		}
	}
	sort.Strings(digests)
	b := tx.Bucket(bucketBlobRefs)
	var orphans []string
	for _, d := range digests {
		key := []byte(d)
		// A count that would go negative means it was already wrong; zero is
		// the safe floor because the blob store deletes only after checking
		// the count again under its digest lock.
		n := int64(readU64(b.Get(key))) + delta[d]
		if n > 0 {
			if err := b.Put(key, u64(uint64(n))); err != nil {
				return nil, fmt.Errorf("blob %s reference count: %w", d, err)
			}
			continue
		}
		if err := b.Delete(key); err != nil {
			return nil, fmt.Errorf("blob %s reference count: %w", d, err)
		}
		orphans = append(orphans, d)
	}
	return orphans, nil
}
