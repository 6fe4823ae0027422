package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

var _ node.Adaptations = (*Store)(nil)

var (
	// bucketAdaptations holds the adaptations other hubs made of local
	// resources, keyed (resource id, 0, adaptation URL); bucketAdaptedBy
	// indexes them by (adaptation URL, 0, resource id) for Deletes.
	bucketAdaptations = []byte("adaptations")
	bucketAdaptedBy   = []byte("adaptations_by_url")
	// bucketAdaptNotices remembers, per local adaptation, the inbox of
	// its source's hub that heard its Create, so its Update and Delete
	// reach that hub too (federation).
	bucketAdaptNotices = []byte("fed_adapt_notices")
)

func init() {
	allBuckets = append(allBuckets, bucketAdaptations, bucketAdaptedBy, bucketAdaptNotices)
}

func pairKey(a, b string) []byte { return []byte(a + "\x00" + b) }

// PutAdaptation records or refreshes an adaptation of resourceID;
// node.ErrTooMany when the resource already lists max others. One
// transaction counts and writes.
func (s *Store) PutAdaptation(ctx context.Context, resourceID string, a node.Adaptation, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if resourceID == "" || a.URL == "" {
		return fmt.Errorf("adaptation: resource and url required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAdaptations)
		key := pairKey(resourceID, a.URL)
		if b.Get(key) == nil && max > 0 {
			prefix := pairKey(resourceID, "")
			n, fromActor := 0, 0
			c := b.Cursor()
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if n++; n >= max {
					return fmt.Errorf("resource %q already lists %d adaptations: %w", resourceID, n, node.ErrTooMany)
				}
				var prev node.Adaptation
				if json.Unmarshal(v, &prev) == nil && prev.Actor == a.Actor {
					if fromActor++; fromActor >= node.MaxAdaptationsPerHub {
						return fmt.Errorf("resource %q already lists %d adaptations from %s: %w", resourceID, fromActor, a.Actor, node.ErrTooMany)
					}
				}
			}
		}
		if old := b.Get(key); old != nil {
			var prev node.Adaptation
			if json.Unmarshal(old, &prev) == nil && prev.Actor != a.Actor {
				return fmt.Errorf("adaptation %s was announced by %s, not %s: %w", a.URL, prev.Actor, a.Actor, node.ErrForbidden)
			}
		}
		if err := putJSON(b, string(key), a); err != nil {
			return err
		}
		return tx.Bucket(bucketAdaptedBy).Put(pairKey(a.URL, resourceID), nil)
	})
}

// DeleteAdaptation removes the entries of url that actor announced.
func (s *Store) DeleteAdaptation(ctx context.Context, url, actor string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		by, b := tx.Bucket(bucketAdaptedBy), tx.Bucket(bucketAdaptations)
		prefix := pairKey(url, "")
		var drop [][]byte
		c := by.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			drop = append(drop, bytes.Clone(k))
		}
		for _, k := range drop {
			resourceID := string(k[len(prefix):])
			key := pairKey(resourceID, url)
			var a node.Adaptation
			if v := b.Get(key); v != nil && json.Unmarshal(v, &a) == nil && a.Actor != actor {
				continue // another hub's notice: not this actor's to remove
			}
			if err := b.Delete(key); err != nil {
				return err
			}
			if err := by.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListAdaptations returns a resource's adaptations, oldest first.
func (s *Store) ListAdaptations(ctx context.Context, resourceID string) ([]node.Adaptation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []node.Adaptation
	err := s.db.View(func(tx *bbolt.Tx) error {
		prefix := pairKey(resourceID, "")
		c := tx.Bucket(bucketAdaptations).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var a node.Adaptation
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("adaptation %q: decode stored record: %w", k, err)
			}
			out = append(out, a)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Received.Before(out[j].Received) })
	return out, err
}

// SetAdaptationNotice records (inbox != "") or forgets the inbox of the
// source hub that heard of the local adaptation id.
func (s *Store) SetAdaptationNotice(ctx context.Context, id, inbox string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAdaptNotices)
		if inbox == "" {
			return b.Delete([]byte(id))
		}
		return b.Put([]byte(id), []byte(inbox))
	})
}

// AdaptationNotice returns the inbox recorded for id, "" when none.
func (s *Store) AdaptationNotice(ctx context.Context, id string) (string, error) {
	var inbox string
	err := s.db.View(func(tx *bbolt.Tx) error {
		inbox = string(tx.Bucket(bucketAdaptNotices).Get([]byte(id)))
		return nil
	})
	return inbox, err
}

// DropAdaptationsOf removes every adaptation listed under resourceID.
func (s *Store) DropAdaptationsOf(ctx context.Context, resourceID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, by := tx.Bucket(bucketAdaptations), tx.Bucket(bucketAdaptedBy)
		prefix := pairKey(resourceID, "")
		var keys [][]byte
		c := b.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
			if err := by.Delete(pairKey(string(k[len(prefix):]), resourceID)); err != nil {
				return err
			}
		}
		return nil
	})
}
