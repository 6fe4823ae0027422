package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
)

var _ state.Store = (*Store)(nil)

// Federation buckets. They live in the catalog file so a backup is one
// consistent snapshot of resources, peers and queues.
var (
	bucketPeers = []byte("fed_peers")
	bucketInbox = []byte("fed_inbox")
	bucketSeen  = []byte("fed_seen")
	// bucketSeenByTime indexes the seen ids by arrival (<unix u64><id>), so
	// forgetting old ones reads only those.
	bucketSeenByTime = []byte("fed_seen_by_time")
	bucketDeliveries = []byte("fed_deliveries")
	// Bodies are stored once per fan-out (a Create to a thousand inboxes is
	// one body) with a reference count, and the queue entries stay small,
	// so a delivery round reads the queue without decoding every body.
	bucketDeliveryBodies = []byte("fed_delivery_bodies")
	bucketBlocks         = []byte("fed_blocks")
	bucketKeys           = []byte("fed_keys")
	bucketAnnounced      = []byte("fed_announced")
	// bucketDropped holds the copies an admin dropped, by origin object id.
	bucketDropped = []byte("fed_dropped")
)

func init() {
	allBuckets = append(allBuckets, bucketPeers, bucketInbox, bucketSeen, bucketSeenByTime, bucketDeliveries, bucketDeliveryBodies, bucketBlocks, bucketKeys, bucketAnnounced, bucketDropped)
}

// seenFor is how long an activity id is remembered against replays; the
// signature date window is far shorter, so an older replay fails there.
const seenFor = 30 * 24 * time.Hour

// putRecord is putJSON for binary keys (sequence numbers).
func putRecord(b *bbolt.Bucket, key []byte, v any) error { return putJSON(b, string(key), v) }

func (s *Store) PutPeer(ctx context.Context, p state.Peer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.ActorID == "" {
		return fmt.Errorf("peer: actor id required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bucketPeers), p.ActorID, p)
	})
}

func (s *Store) UpdatePeers(ctx context.Context, ids []string, fn func(*state.Peer)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPeers)
		for _, id := range ids {
			v := b.Get([]byte(id))
			if v == nil {
				continue // forgotten meanwhile
			}
			var p state.Peer
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			fn(&p)
			if err := putJSON(b, id, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) GetPeer(ctx context.Context, actorID string) (state.Peer, error) {
	var p state.Peer
	if err := ctx.Err(); err != nil {
		return p, err
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketPeers).Get([]byte(actorID))
		if v == nil {
			return fmt.Errorf("peer %s: %w", actorID, node.ErrNotFound)
		}
		return json.Unmarshal(v, &p)
	})
	return p, err
}

func (s *Store) ListPeers(ctx context.Context) ([]state.Peer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []state.Peer
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPeers).ForEach(func(_, v []byte) error {
			var p state.Peer
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

func (s *Store) DeletePeer(ctx context.Context, actorID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketPeers).Delete([]byte(actorID)) })
}

func (s *Store) EnqueueInbox(ctx context.Context, it state.InboxItem) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	fresh := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		seen := tx.Bucket(bucketSeen)
		if it.ID != "" {
			if v := seen.Get([]byte(it.ID)); v != nil {
				return nil
			}
			at := u64(uint64(it.Received.Unix()))
			if err := seen.Put([]byte(it.ID), at); err != nil {
				return err
			}
			if err := tx.Bucket(bucketSeenByTime).Put(append(at, it.ID...), nil); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketInbox)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		it.Seq = seq
		fresh = true
		return putRecord(b, u64(seq), it)
	})
	return fresh, err
}

func (s *Store) InboxItems(ctx context.Context, limit int) ([]state.InboxItem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []state.InboxItem
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketInbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var it state.InboxItem
			if err := json.Unmarshal(v, &it); err != nil {
				return err
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}

// InboxDone removes a processed activity and forgets ids seen too long
// ago, oldest first and a hundred at most, so the transaction stays short.
func (s *Store) InboxDone(ctx context.Context, seq uint64) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketInbox).Delete(u64(seq)); err != nil {
			return err
		}
		cutoff := uint64(time.Now().Add(-seenFor).Unix())
		seen, byTime := tx.Bucket(bucketSeen), tx.Bucket(bucketSeenByTime)
		var old [][]byte
		c := byTime.Cursor()
		for k, _ := c.First(); len(k) >= 8 && readU64(k[:8]) < cutoff && len(old) < 100; k, _ = c.Next() {
			old = append(old, append([]byte(nil), k...))
		}
		for _, k := range old {
			if err := byTime.Delete(k); err != nil {
				return err
			}
			if err := seen.Delete(k[8:]); err != nil {
				return err
			}
		}
		return nil
	})
}

// deliveryRecord is a queue entry: the delivery without its body, which
// lives in bucketDeliveryBodies under Body (a key with a reference count).
type deliveryRecord struct {
	Inbox    string    `json:"inbox"`
	Body     uint64    `json:"body"`
	Attempts int       `json:"attempts"`
	NextAt   time.Time `json:"next_at"`
	Created  time.Time `json:"created"`
	LastErr  string    `json:"last_error,omitempty"`
}

// Body entries are <refs u64><bytes>.
func (s *Store) EnqueueDeliveries(ctx context.Context, ds []state.Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, bodies := tx.Bucket(bucketDeliveries), tx.Bucket(bucketDeliveryBodies)
		keys := map[string]uint64{}
		refs := map[uint64]uint64{}
		for _, d := range ds {
			key, ok := keys[string(d.Body)]
			if !ok {
				var err error
				if key, err = bodies.NextSequence(); err != nil {
					return err
				}
				keys[string(d.Body)] = key
			}
			refs[key]++
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			rec := deliveryRecord{Inbox: d.Inbox, Body: key, Attempts: d.Attempts, NextAt: d.NextAt, Created: d.Created, LastErr: d.LastErr}
			if err := putRecord(b, u64(seq), rec); err != nil {
				return err
			}
		}
		for body, key := range keys {
			if err := bodies.Put(u64(key), append(u64(refs[key]), body...)); err != nil {
				return err
			}
		}
		return nil
	})
}

func deliveryFrom(seq uint64, rec deliveryRecord, bodies *bbolt.Bucket) state.Delivery {
	d := state.Delivery{Seq: seq, Inbox: rec.Inbox, Attempts: rec.Attempts, NextAt: rec.NextAt, Created: rec.Created, LastErr: rec.LastErr}
	if v := bodies.Get(u64(rec.Body)); len(v) >= 8 {
		d.Body = append([]byte(nil), v[8:]...)
	}
	return d
}

func (s *Store) Deliveries(ctx context.Context, limit int) ([]state.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []state.Delivery
	err := s.db.View(func(tx *bbolt.Tx) error {
		bodies := tx.Bucket(bucketDeliveryBodies)
		c := tx.Bucket(bucketDeliveries).Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var rec deliveryRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, deliveryFrom(readU64(k), rec, bodies))
		}
		return nil
	})
	return out, err
}

func (s *Store) DueHeads(ctx context.Context, now time.Time) ([]state.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []state.Delivery
	err := s.db.View(func(tx *bbolt.Tx) error {
		bodies := tx.Bucket(bucketDeliveryBodies)
		seen := map[string]bool{}
		c := tx.Bucket(bucketDeliveries).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var rec deliveryRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if seen[rec.Inbox] {
				continue
			}
			seen[rec.Inbox] = true
			if !rec.NextAt.After(now) {
				out = append(out, deliveryFrom(readU64(k), rec, bodies))
			}
		}
		return nil
	})
	return out, err
}

func (s *Store) UpdateDelivery(ctx context.Context, d state.Delivery) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDeliveries)
		v := b.Get(u64(d.Seq))
		if v == nil {
			return fmt.Errorf("delivery %d: %w", d.Seq, node.ErrNotFound)
		}
		var rec deliveryRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		rec.Attempts, rec.NextAt, rec.LastErr = d.Attempts, d.NextAt, d.LastErr
		return putRecord(b, u64(d.Seq), rec)
	})
}

func (s *Store) DeleteDelivery(ctx context.Context, seq uint64) error {
	return s.DeleteDeliveries(ctx, []uint64{seq})
}

// DeleteDeliveries removes deliveries and the bodies no entry needs any
// more, in one transaction.
func (s *Store) DeleteDeliveries(ctx context.Context, seqs []uint64) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, bodies := tx.Bucket(bucketDeliveries), tx.Bucket(bucketDeliveryBodies)
		for _, seq := range seqs {
			v := b.Get(u64(seq))
			if v == nil {
				continue
			}
			var rec deliveryRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if err := b.Delete(u64(seq)); err != nil {
				return err
			}
			if bv := bodies.Get(u64(rec.Body)); len(bv) >= 8 {
				if n := readU64(bv[:8]); n > 1 {
					if err := bodies.Put(u64(rec.Body), append(u64(n-1), bv[8:]...)); err != nil {
						return err
					}
				} else if err := bodies.Delete(u64(rec.Body)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (s *Store) DeliveryCount(ctx context.Context) (int, error) {
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketDeliveries).Stats().KeyN
		return nil
	})
	return n, err
}

func (s *Store) Block(ctx context.Context, domain string) error {
	domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if domain == "" {
		return fmt.Errorf("block: domain required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBlocks).Put([]byte(domain), u64(uint64(time.Now().Unix())))
	})
}

func (s *Store) Unblock(ctx context.Context, domain string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBlocks).Delete([]byte(strings.ToLower(strings.TrimSpace(domain))))
	})
}

// Blocked matches the domain and every parent domain, so blocking
// example.org also blocks social.example.org.
func (s *Store) Blocked(ctx context.Context, domain string) (bool, error) {
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	blocked := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketBlocks)
		for d := domain; d != ""; {
			if b.Get([]byte(d)) != nil {
				blocked = true
				return nil
			}
			_, rest, ok := strings.Cut(d, ".")
			if !ok {
				break
			}
			d = rest
		}
		return nil
	})
	return blocked, err
}

func (s *Store) Blocks(ctx context.Context) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBlocks).ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

func (s *Store) PutKey(ctx context.Context, k state.RemoteKey) error {
	return s.db.Update(func(tx *bbolt.Tx) error { return putJSON(tx.Bucket(bucketKeys), k.KeyID, k) })
}

func (s *Store) GetKey(ctx context.Context, keyID string) (state.RemoteKey, error) {
	var k state.RemoteKey
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketKeys).Get([]byte(keyID))
		if v == nil {
			return fmt.Errorf("key %s: %w", keyID, node.ErrNotFound)
		}
		return json.Unmarshal(v, &k)
	})
	return k, err
}

func (s *Store) Announced(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		ok = tx.Bucket(bucketAnnounced).Get([]byte(id)) != nil
		return nil
	})
	return ok, err
}

func (s *Store) SetAnnounced(ctx context.Context, id string, v bool) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAnnounced)
		if !v {
			return b.Delete([]byte(id))
		}
		return b.Put([]byte(id), []byte{1})
	})
}

func (s *Store) Drop(ctx context.Context, d state.Dropped) error {
	if d.Origin == "" {
		return fmt.Errorf("drop: origin required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error { return putJSON(tx.Bucket(bucketDropped), d.Origin, d) })
}

func (s *Store) Undrop(ctx context.Context, origin string) (bool, error) {
	found := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDropped)
		found = b.Get([]byte(origin)) != nil
		return b.Delete([]byte(origin))
	})
	return found, err
}

func (s *Store) IsDropped(ctx context.Context, origin string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		ok = tx.Bucket(bucketDropped).Get([]byte(origin)) != nil
		return nil
	})
	return ok, err
}

func (s *Store) Drops(ctx context.Context) ([]state.Dropped, error) {
	out := []state.Dropped{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDropped).ForEach(func(_, v []byte) error {
			var d state.Dropped
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}
