package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

const (
	defaultChangesLimit = 100
	maxChangesLimit     = 10000
)

// pruneBatch bounds the keys deleted per transaction so that pruning a long
// feed neither holds the writer lock nor grows memory for long. A variable
// so tests can cross batch boundaries without writing thousands of changes.
var pruneBatch = 10000

// appendChange must run in the transaction that makes the change, so a
// follower can never see a write without its entry or the reverse.
func appendChange(tx *bbolt.Tx, id string, deleted bool) error {
	b := tx.Bucket(bucketChanges)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("change feed: %w", err)
	}
	data, err := json.Marshal(node.Change{Seq: seq, ResourceID: id, Deleted: deleted, At: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("change feed: encode: %w", err)
	}
	return b.Put(u64(seq), data)
}

// Changes returns up to limit changes with Seq > after, oldest first.
func (s *Store) Changes(ctx context.Context, after uint64, limit int) ([]node.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = defaultChangesLimit
	}
	limit = min(limit, maxChangesLimit)
	var out []node.Change
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketChanges).Cursor()
		for k, v := c.Seek(u64(after)); k != nil && len(out) < limit; k, v = c.Next() {
			if readU64(k) <= after {
				continue
			}
			var ch node.Change
			if err := json.Unmarshal(v, &ch); err != nil {
				return fmt.Errorf("change %d: decode: %w", readU64(k), err)
			}
			out = append(out, ch)
		}
		return nil
	})
	return out, err
}

// LastSeq is the newest change's sequence number. It comes from the
// bucket's sequence, not its last key, so it does not go back when the feed
// is pruned.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketChanges).Sequence()
		return nil
	})
	return n, err
}

// Cursor returns how far the named worker has followed the feed; 0 for a
// worker that never saved a cursor, so it starts from the beginning.
func (s *Store) Cursor(ctx context.Context, name string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = readU64(tx.Bucket(bucketCursors).Get([]byte(name)))
		return nil
	})
	return n, err
}

// SetCursor saves how far the named worker has followed the feed.
func (s *Store) SetCursor(ctx context.Context, name string, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("cursor name: required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCursors).Put([]byte(name), u64(seq))
	})
}

// Cursors returns every saved cursor, so a caller can prune up to the
// slowest worker.
func (s *Store) Cursors(ctx context.Context) (map[string]uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketCursors).ForEach(func(k, v []byte) error {
			out[string(k)] = readU64(v)
			return nil
		})
	})
	return out, err
}

// PruneChanges deletes the changes with Seq <= upTo. Callers choose upTo
// below every worker's cursor: a worker behind it would miss changes.
// Deletion runs in batches; a failure leaves a shorter feed, never a gap.
func (s *Store) PruneChanges(upTo uint64) error {
	for {
		var done bool
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketChanges)
			// Keys are collected first: deleting through a bbolt cursor
			// while moving it can skip entries.
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.First(); k != nil && readU64(k) <= upTo && len(keys) < pruneBatch; k, _ = c.Next() {
				keys = append(keys, append([]byte(nil), k...))
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			done = len(keys) < pruneBatch
			return nil
		})
		if err != nil {
			return fmt.Errorf("prune change feed up to %d: %w", upTo, err)
		}
		if done {
			return nil
		}
	}
}
