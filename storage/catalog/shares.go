package catalog

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
)

// Share buckets, keyed by the origin's object id: the copies this node
// shared with its followers, and the copies it holds through other hubs'
// shares.
var (
	bucketShares       = []byte("fed_shares")
	bucketSharedCopies = []byte("fed_shared_copies")
)

func init() {
	allBuckets = append(allBuckets, bucketShares, bucketSharedCopies)
}

func (s *Store) PutShare(ctx context.Context, sh state.Share) error {
	if sh.Object == "" {
		return fmt.Errorf("share: object required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error { return putJSON(tx.Bucket(bucketShares), sh.Object, sh) })
}

func (s *Store) GetShare(ctx context.Context, object string) (state.Share, error) {
	var sh state.Share
	return sh, getShareRecord(s, bucketShares, object, &sh)
}

func (s *Store) DeleteShare(ctx context.Context, object string) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketShares).Delete([]byte(object)) })
}

func (s *Store) PutSharedCopy(ctx context.Context, c state.SharedCopy) error {
	if c.Object == "" {
		return fmt.Errorf("shared copy: object required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error { return putJSON(tx.Bucket(bucketSharedCopies), c.Object, c) })
}

func (s *Store) GetSharedCopy(ctx context.Context, object string) (state.SharedCopy, error) {
	var c state.SharedCopy
	return c, getShareRecord(s, bucketSharedCopies, object, &c)
}

func (s *Store) DeleteSharedCopy(ctx context.Context, object string) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketSharedCopies).Delete([]byte(object)) })
}

func (s *Store) SharedCopies(ctx context.Context) ([]state.SharedCopy, error) {
	out := []state.SharedCopy{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketSharedCopies).ForEach(func(_, v []byte) error {
			var c state.SharedCopy
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}

func getShareRecord(s *Store, bucket []byte, key string, out any) error {
	return s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(key))
		if v == nil {
			return fmt.Errorf("%s %s: %w", bucket, key, node.ErrNotFound)
		}
		return json.Unmarshal(v, out)
	})
}
