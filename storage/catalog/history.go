package catalog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

var _ node.Histories = (*Store)(nil)

// bucketRevisions holds the resources' histories: resource id, 0,
// big-endian version -> node.Revision (JSON). A history is one range scan
// of its prefix, newest last; ids never hold a 0 byte, so one resource's
// prefix never covers another's.
var bucketRevisions = []byte("revisions")

func init() { allBuckets = append(allBuckets, bucketRevisions) }

func revisionPrefix(id string) []byte {
	return append([]byte(id), 0)
}

func revisionKey(id string, version int) []byte {
	k := revisionPrefix(id)
	return binary.BigEndian.AppendUint64(k, uint64(version))
}

// recordRevision asks node what writing cur over old (nil when new)
// changes, and writes that revision in the caller's transaction, the one
// that writes cur: a change and its revision commit together or not at
// all. It sets cur.Version. The oldest revisions past node.MaxRevisions
// are dropped.
func recordRevision(ctx context.Context, tx *bbolt.Tx, old, cur *node.Resource) error {
	if old == nil {
		// A new resource under an id whose history a delete left would
		// mix two resources' stories; deletes remove it, this is a guard.
		if err := deleteHistory(tx, cur.ID); err != nil {
			return err
		}
	}
	rev := node.Revise(ctx, old, cur)
	if rev == nil {
		return nil
	}
	data, err := json.Marshal(rev)
	if err != nil {
		return fmt.Errorf("resource %q: encode revision %d: %w", cur.ID, rev.Version, err)
	}
	b := tx.Bucket(bucketRevisions)
	if err := b.Put(revisionKey(cur.ID, rev.Version), data); err != nil {
		return fmt.Errorf("resource %q: revision %d: %w", cur.ID, rev.Version, err)
	}
	if rev.Version <= node.MaxRevisions {
		return nil
	}
	prefix := revisionPrefix(cur.ID)
	oldest := revisionKey(cur.ID, rev.Version-node.MaxRevisions)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && bytes.Compare(k, oldest) <= 0; k, _ = c.Seek(prefix) {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("resource %q: drop old revision: %w", cur.ID, err)
		}
	}
	return nil
}

// deleteHistory removes every revision of a resource.
func deleteHistory(tx *bbolt.Tx, id string) error {
	b := tx.Bucket(bucketRevisions)
	prefix := revisionPrefix(id)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("resource %q: delete history: %w", id, err)
		}
	}
	return nil
}

// History returns a page of the resource's revisions, newest first, and
// the cursor of the next page ("" at the end). The cursor is the last
// version returned, so a page stays the same while newer revisions come.
func (s *Store) History(ctx context.Context, id string, after string, limit int) ([]node.Revision, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		limit = defaultListLimit
	}
	limit = min(limit, maxListLimit)
	var before uint64 // versions strictly below it; 0 for the first page
	if after != "" {
		raw, err := base64.RawURLEncoding.DecodeString(after)
		if err != nil || len(raw) != 8 || binary.BigEndian.Uint64(raw) == 0 {
			return nil, "", fmt.Errorf("page cursor %q is not one this node returned: %w", after, node.ErrInvalid)
		}
		before = binary.BigEndian.Uint64(raw)
	}
	var out []node.Revision
	var next string
	err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketResources).Get([]byte(id)) == nil {
			return fmt.Errorf("resource %q: %w", id, node.ErrNotFound)
		}
		prefix := revisionPrefix(id)
		c := tx.Bucket(bucketRevisions).Cursor()
		// Start after the resource's last key (or at the cursor) and walk
		// back.
		from := append(bytes.Clone(prefix), 0xff) // past the newest version
		if before != 0 {
			from = binary.BigEndian.AppendUint64(bytes.Clone(prefix), before)
		}
		k, _ := c.Seek(from)
		var v []byte
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
			if len(out) == limit {
				last := out[len(out)-1].Version
				next = base64.RawURLEncoding.EncodeToString(binary.BigEndian.AppendUint64(nil, uint64(last)))
				break
			}
			var r node.Revision
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("resource %q: decode stored revision: %w", id, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}
