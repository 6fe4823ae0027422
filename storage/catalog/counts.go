package catalog

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

// keyCounts holds, in the meta bucket, the number of resources, the number
// of local ones and the change-feed sequence they were counted at (3 x 8
// bytes). Every resource write updates it in its own transaction, so Count
// reads one key instead of walking the catalog (a bbolt KeyN reads every
// page: seconds at 100,000 resources).
var keyCounts = []byte("counts")

// counts is what keyCounts holds.
type counts struct {
	total, local int64
	seq          uint64
}

func (c counts) encode() []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b, uint64(c.total))
	binary.BigEndian.PutUint64(b[8:], uint64(c.local))
	binary.BigEndian.PutUint64(b[16:], c.seq)
	return b
}

func readCounts(tx *bbolt.Tx) (counts, bool) {
	v := tx.Bucket(bucketMeta).Get(keyCounts)
	if len(v) != 24 {
		return counts{}, false
	}
	return counts{
		total: int64(binary.BigEndian.Uint64(v)),
		local: int64(binary.BigEndian.Uint64(v[8:])),
		seq:   binary.BigEndian.Uint64(v[16:]),
	}, true
}

// countDelta is how a transaction's writes move the counts: add (old, new)
// for each write, old nil for a creation, new nil for a deletion.
type countDelta struct{ total, local int64 }

func (d *countDelta) add(old, new *node.Resource) {
	if old != nil {
		d.total--
		if old.Local() {
			d.local--
		}
	}
	if new != nil {
		d.total++
		if new.Local() {
			d.local++
		}
	}
}

// apply writes the moved counts, stamped with the change-feed sequence, in
// the writing transaction. It must run after the transaction's changes are
// appended: the stamp is how open finds counts that a write not going
// through here (an older communs) left behind.
func (d countDelta) apply(tx *bbolt.Tx) error {
	c, ok := readCounts(tx)
	if !ok {
		// Only when the key was removed behind the store's back (init
		// always writes it): recount rather than guess.
		var err error
		if c, err = scanCounts(tx); err != nil {
			return err
		}
	} else {
		if d == (countDelta{}) && c.seq == tx.Bucket(bucketChanges).Sequence() {
			return nil // nothing stored (every item of a batch refused)
		}
		c.total += d.total
		c.local += d.local
	}
	c.seq = tx.Bucket(bucketChanges).Sequence()
	if err := tx.Bucket(bucketMeta).Put(keyCounts, c.encode()); err != nil {
		return fmt.Errorf("catalog counts: %w", err)
	}
	return nil
}

// scanCounts counts the resources by reading all of them: once, when a
// catalog written before the counts existed (or by an older communs since)
// is opened.
func scanCounts(tx *bbolt.Tx) (counts, error) {
	var c counts
	err := tx.Bucket(bucketResources).ForEach(func(k, v []byte) error {
		var r struct {
			Origin string `json:"origin"`
		}
		c.total++
		// A record that does not decode is counted but not as local:
		// failing here would keep the node from opening its catalog
		// (reading that record fails where it is read).
		if json.Unmarshal(v, &r) == nil && (&node.Resource{Origin: r.Origin}).Local() {
			c.local++
		}
		return nil
	})
	c.seq = tx.Bucket(bucketChanges).Sequence()
	return c, err
}

// initCounts recounts when the stored counts are missing or were not
// written with the latest change, i.e. some write did not update them.
func initCounts(tx *bbolt.Tx) error {
	if c, ok := readCounts(tx); ok && c.seq == tx.Bucket(bucketChanges).Sequence() {
		return nil
	}
	c, err := scanCounts(tx)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketMeta).Put(keyCounts, c.encode()); err != nil {
		return fmt.Errorf("catalog counts: %w", err)
	}
	return nil
}

// Count returns the number of resources, local and copies.
func (s *Store) Count(ctx context.Context) (int, error) {
	c, err := s.counts(ctx)
	return int(max(c.total, 0)), err
}

// CountLocal returns the number of resources published by this node (not
// copies of other nodes' resources).
func (s *Store) CountLocal(ctx context.Context) (int, error) {
	c, err := s.counts(ctx)
	return int(max(c.local, 0)), err
}

func (s *Store) counts(ctx context.Context) (counts, error) {
	if err := ctx.Err(); err != nil {
		return counts{}, err
	}
	var c counts
	err := s.db.View(func(tx *bbolt.Tx) error {
		var ok bool
		if c, ok = readCounts(tx); ok {
			return nil
		}
		// Only when the key was removed behind the store's back.
		var err error
		c, err = scanCounts(tx)
		return err
	})
	return c, err
}
