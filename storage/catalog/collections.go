package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

var _ node.Collections = (*Store)(nil)

var (
	// bucketCollections holds collections by id (JSON).
	bucketCollections = []byte("collections")
	// bucketCollByCreated indexes every collection: createdKey(created,
	// id) -> origin flag ('l' or 'r') then the organisation slug, so a
	// listing filters and counts without decoding records.
	bucketCollByCreated = []byte("coll_by_created")
	// bucketCollByOrg indexes local collections by organisation:
	// slug, 0, createdKey -> nil.
	bucketCollByOrg = []byte("coll_by_org")
	// bucketCollByOrigin finds a copy by the origin's object id -> id.
	bucketCollByOrigin = []byte("coll_by_origin")
	// bucketCollItems indexes items: resource id, 0, collection id -> nil,
	// so deleting a resource finds the collections listing it.
	bucketCollItems = []byte("coll_items")
)

func init() {
	// Created by init like the other buckets (kept here so the feature's
	// storage stays in one file).
	allBuckets = append(allBuckets, bucketCollections, bucketCollByCreated, bucketCollByOrg, bucketCollByOrigin, bucketCollItems)
}

// Reasons stored for the items of a copy whose resource this node deleted.
const reasonResourceDeleted = "non disponible sur ce hub : ressource retirée de ce hub"

func collOrgKey(c *node.Collection) []byte {
	ck := createdKey(c.Created, c.ID)
	k := make([]byte, 0, len(c.Organisation)+1+len(ck))
	k = append(k, c.Organisation...)
	k = append(k, 0)
	return append(k, ck...)
}

func collItemKey(resource, collection string) []byte {
	k := make([]byte, 0, len(resource)+1+len(collection))
	k = append(k, resource...)
	k = append(k, 0)
	return append(k, collection...)
}

func collCreatedValue(c *node.Collection) []byte {
	v := make([]byte, 0, 1+len(c.Organisation))
	if c.Local() {
		v = append(v, 'l')
	} else {
		v = append(v, 'r')
	}
	return append(v, c.Organisation...)
}

// appendCollectionChange records a collection's change in the feed; like
// appendChange it must run in the transaction that makes the change.
func appendCollectionChange(tx *bbolt.Tx, id string, deleted bool) error {
	b := tx.Bucket(bucketChanges)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("change feed: %w", err)
	}
	data, err := json.Marshal(node.Change{Seq: seq, Collection: id, Deleted: deleted, At: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("change feed: encode: %w", err)
	}
	return b.Put(u64(seq), data)
}

func getCollection(tx *bbolt.Tx, id string) (node.Collection, error) {
	v := tx.Bucket(bucketCollections).Get([]byte(id))
	if v == nil {
		return node.Collection{}, fmt.Errorf("collection %q: %w", id, node.ErrNotFound)
	}
	var c node.Collection
	if err := json.Unmarshal(v, &c); err != nil {
		return node.Collection{}, fmt.Errorf("collection %q: decode: %w", id, err)
	}
	return c, nil
}

// unindexCollection removes every index entry of a stored collection.
func unindexCollection(tx *bbolt.Tx, c *node.Collection) error {
	if err := tx.Bucket(bucketCollByCreated).Delete(createdKey(c.Created, c.ID)); err != nil {
		return err
	}
	if c.Organisation != "" {
		if err := tx.Bucket(bucketCollByOrg).Delete(collOrgKey(c)); err != nil {
			return err
		}
	}
	if c.Origin != "" {
		if err := tx.Bucket(bucketCollByOrigin).Delete([]byte(c.Origin)); err != nil {
			return err
		}
	}
	items := tx.Bucket(bucketCollItems)
	for _, it := range c.Items {
		if err := items.Delete(collItemKey(it.Resource, c.ID)); err != nil {
			return err
		}
	}
	return nil
}

// putCollection checks what only the transaction can check (items and
// organisation still exist), then writes the record and its indexes. old
// is the stored version (nil when new), whose index entries go first.
func putCollection(tx *bbolt.Tx, old, c *node.Collection) error {
	if c.ID == "" {
		return fmt.Errorf("collection id: required: %w", node.ErrInvalid)
	}
	res := tx.Bucket(bucketResources)
	for i, it := range c.Items {
		if res.Get([]byte(it.Resource)) == nil {
			return &node.ValidationError{Field: fmt.Sprintf("items[%d].resource", i), Code: "invalid",
				Rule: fmt.Sprintf("no resource %q on this hub (deleted meanwhile?)", it.Resource)}
		}
	}
	if c.Organisation != "" {
		if !c.Local() {
			return fmt.Errorf("collection %q: a copy from another hub belongs to none of this hub's organisations: %w", c.ID, node.ErrInvalid)
		}
		// Checked when the owner is set or changes: a collection kept by
		// an organisation removed meanwhile must not block the deletion
		// of a resource it lists (dropFromCollections).
		if (old == nil || old.Organisation != c.Organisation) && tx.Bucket(bucketOrgs).Get([]byte(c.Organisation)) == nil {
			return &node.ValidationError{Field: "organisation", Code: "invalid",
				Rule: fmt.Sprintf("unknown organisation %q (removed meanwhile?)", c.Organisation)}
		}
	}
	if old != nil {
		if err := unindexCollection(tx, old); err != nil {
			return err
		}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("collection %q: encode: %w", c.ID, err)
	}
	if err := tx.Bucket(bucketCollections).Put([]byte(c.ID), data); err != nil {
		return err
	}
	if err := tx.Bucket(bucketCollByCreated).Put(createdKey(c.Created, c.ID), collCreatedValue(c)); err != nil {
		return err
	}
	if c.Organisation != "" {
		if err := tx.Bucket(bucketCollByOrg).Put(collOrgKey(c), nil); err != nil {
			return err
		}
	}
	if c.Origin != "" {
		if err := tx.Bucket(bucketCollByOrigin).Put([]byte(c.Origin), []byte(c.ID)); err != nil {
			return err
		}
	}
	items := tx.Bucket(bucketCollItems)
	for _, it := range c.Items {
		if err := items.Put(collItemKey(it.Resource, c.ID), nil); err != nil {
			return err
		}
	}
	return appendCollectionChange(tx, c.ID, false)
}

// CreateCollection stores a new collection with its change entry.
func (s *Store) CreateCollection(ctx context.Context, c node.Collection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketCollections).Get([]byte(c.ID)) != nil {
			return fmt.Errorf("collection %q already exists: %w", c.ID, node.ErrConflict)
		}
		if c.Origin != "" && tx.Bucket(bucketCollByOrigin).Get([]byte(c.Origin)) != nil {
			return fmt.Errorf("a copy of collection %s already exists: %w", c.Origin, node.ErrConflict)
		}
		return putCollection(tx, nil, &c)
	})
}

// GetCollection returns a collection, or node.ErrNotFound.
func (s *Store) GetCollection(ctx context.Context, id string) (node.Collection, error) {
	if err := ctx.Err(); err != nil {
		return node.Collection{}, err
	}
	var c node.Collection
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		c, err = getCollection(tx, id)
		return err
	})
	return c, err
}

// CollectionByOrigin returns the copy of a peer's collection.
func (s *Store) CollectionByOrigin(ctx context.Context, origin string) (node.Collection, error) {
	if err := ctx.Err(); err != nil {
		return node.Collection{}, err
	}
	var c node.Collection
	err := s.db.View(func(tx *bbolt.Tx) error {
		id := tx.Bucket(bucketCollByOrigin).Get([]byte(origin))
		if id == nil {
			return fmt.Errorf("collection from %s: %w", origin, node.ErrNotFound)
		}
		var err error
		c, err = getCollection(tx, string(id))
		return err
	})
	return c, err
}

// ListCollections returns a page, newest created first, and the number of
// collections the query selects (counted from the index keys, without
// decoding records).
func (s *Store) ListCollections(ctx context.Context, q node.ListCollectionsQuery) ([]node.Collection, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var flag byte
	switch q.Origin {
	case "":
	case "local":
		flag = 'l'
	case "remote":
		flag = 'r'
	default:
		return nil, 0, fmt.Errorf("origin %q: use local, remote or nothing: %w", q.Origin, node.ErrInvalid)
	}
	if q.Limit <= 0 {
		q.Limit = defaultListLimit
	}
	q.Limit = min(q.Limit, maxListLimit)
	q.Offset = max(q.Offset, 0)
	var out []node.Collection
	total := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		take := func(ck []byte) error {
			total++
			if total <= q.Offset || len(out) >= q.Limit {
				return nil
			}
			c, err := getCollection(tx, string(ck[8:]))
			if err != nil {
				return err
			}
			out = append(out, c)
			return nil
		}
		if q.Organisation != "" {
			if flag == 'r' {
				return nil // copies belong to no organisation of this hub
			}
			prefix := append([]byte(q.Organisation), 0)
			c := tx.Bucket(bucketCollByOrg).Cursor()
			// Newest first: seek past the prefix, then walk back.
			k, _ := c.Seek(append(append([]byte(nil), q.Organisation...), 1))
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
			for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
				if err := take(k[len(prefix):]); err != nil {
					return err
				}
			}
			return nil
		}
		c := tx.Bucket(bucketCollByCreated).Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if flag != 0 && (len(v) == 0 || v[0] != flag) {
				continue
			}
			if err := take(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// UpdateCollection applies fn to the stored collection. When fn fails,
// nothing is written and its error is returned as is.
func (s *Store) UpdateCollection(ctx context.Context, id string, fn func(*node.Collection) error) (node.Collection, error) {
	if err := ctx.Err(); err != nil {
		return node.Collection{}, err
	}
	var out node.Collection
	err := s.db.Update(func(tx *bbolt.Tx) error {
		old, err := getCollection(tx, id)
		if err != nil {
			return err
		}
		cur, err := getCollection(tx, id) // fn gets its own copy
		if err != nil {
			return err
		}
		if err := fn(&cur); err != nil {
			return err
		}
		if cur.ID != old.ID || cur.Origin != old.Origin {
			return fmt.Errorf("collection %q: an update may not change the id or the origin: %w", id, node.ErrInvalid)
		}
		out = cur
		return putCollection(tx, &old, &cur)
	})
	if err != nil {
		return node.Collection{}, err
	}
	return out, nil
}

// PutRemoteCollection creates or replaces the copy of a peer's collection,
// found by its origin. The id of a new copy is c.ID; a stored copy keeps
// its id and creation time.
func (s *Store) PutRemoteCollection(ctx context.Context, c node.Collection, check func(old *node.Collection) error) (node.Collection, error) {
	if err := ctx.Err(); err != nil {
		return node.Collection{}, err
	}
	if c.Origin == "" {
		return node.Collection{}, fmt.Errorf("collection %q: a copy needs its origin: %w", c.ID, node.ErrInvalid)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var oldp *node.Collection
		if id := tx.Bucket(bucketCollByOrigin).Get([]byte(c.Origin)); id != nil {
			old, err := getCollection(tx, string(id))
			if err != nil {
				return err
			}
			oldp = &old
			c.ID, c.Created = old.ID, old.Created
		} else if v := tx.Bucket(bucketCollections).Get([]byte(c.ID)); v != nil {
			return fmt.Errorf("collection %q already exists with another origin: %w", c.ID, node.ErrConflict)
		}
		if check != nil {
			if err := check(oldp); err != nil {
				return err
			}
		}
		return putCollection(tx, oldp, &c)
	})
	if err != nil {
		return node.Collection{}, err
	}
	return c, nil
}

// DeleteCollection removes a collection with its change entry.
func (s *Store) DeleteCollection(ctx context.Context, id string) (node.Collection, error) {
	if err := ctx.Err(); err != nil {
		return node.Collection{}, err
	}
	var old node.Collection
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		if old, err = getCollection(tx, id); err != nil {
			return err
		}
		if err := unindexCollection(tx, &old); err != nil {
			return err
		}
		if err := tx.Bucket(bucketCollections).Delete([]byte(id)); err != nil {
			return err
		}
		return appendCollectionChange(tx, id, true)
	})
	if err != nil {
		return node.Collection{}, err
	}
	return old, nil
}

// CollectionsWith returns the ids of the collections listing a resource.
func (s *Store) CollectionsWith(ctx context.Context, resourceID string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		out, err = collectionsWith(tx, resourceID)
		return err
	})
	return out, err
}

func collectionsWith(tx *bbolt.Tx, resourceID string) ([]string, error) {
	prefix := append([]byte(resourceID), 0)
	var out []string
	c := tx.Bucket(bucketCollItems).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	return out, nil
}

// dropFromCollections runs in a resource's Delete: the resource leaves
// every local collection, and becomes an unavailable item of every copy
// (with its origin and title, so the visitor still sees what it was), each
// changed collection getting its change entry.
func dropFromCollections(tx *bbolt.Tx, r *node.Resource) error {
	ids, err := collectionsWith(tx, r.ID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		old, err := getCollection(tx, id)
		if errors.Is(err, node.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		cur, _ := getCollection(tx, id)
		items := cur.Items[:0]
		for _, it := range cur.Items {
			if it.Resource != r.ID {
				items = append(items, it)
				continue
			}
			if !cur.Local() && r.Origin != "" {
				cur.Unavailable = append(cur.Unavailable, node.UnavailableItem{
					URL: r.Origin, Title: r.Title, Note: it.Note, Reason: reasonResourceDeleted})
			}
		}
		cur.Items = items
		if cur.Local() {
			// A copy keeps its origin's date, against which the
			// origin's next update is compared.
			cur.Updated = time.Now().UTC()
		}
		if err := putCollection(tx, &old, &cur); err != nil {
			return fmt.Errorf("collection %q: drop deleted resource %q: %w", id, r.ID, err)
		}
	}
	return nil
}
