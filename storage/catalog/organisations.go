package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

var (
	_ node.Organisations = (*Store)(nil)
	_ node.Downloads     = (*Store)(nil)
)

var (
	bucketOrgs = []byte("organisations")
	// bucketOrgResources indexes local resources by organisation:
	// slug, 0, createdKey(created, id) -> nil. Resource writes keep it in
	// the same transaction as the record, so counts and listings are exact
	// and an organisation with resources is never removed.
	bucketOrgResources = []byte("org_resources")
	// bucketDownloads counts file downloads per month and resource:
	// "YYYY-MM", 0, id -> uint64.
	bucketDownloads = []byte("downloads")
)

func orgIndexKey(r *node.Resource) []byte {
	ck := createdKey(r.Created, r.ID)
	k := make([]byte, 0, len(r.Organisation)+1+len(ck))
	k = append(k, r.Organisation...)
	k = append(k, 0)
	return append(k, ck...)
}

// indexOrganisation moves a resource's entry in the organisation index
// from old to cur (either may be nil), refusing a local resource that
// names an organisation this hub does not have.
func indexOrganisation(tx *bbolt.Tx, old, cur *node.Resource) error {
	b := tx.Bucket(bucketOrgResources)
	named := cur != nil && cur.Organisation != ""
	if named { // refuse before changing anything
		if !cur.Local() {
			return fmt.Errorf("resource %q: a copy from another hub belongs to none of this hub's organisations: %w", cur.ID, node.ErrInvalid)
		}
		if tx.Bucket(bucketOrgs).Get([]byte(cur.Organisation)) == nil {
			return &node.ValidationError{Field: "organisation", Code: "invalid",
				Rule: fmt.Sprintf("unknown organisation %q (removed meanwhile?)", cur.Organisation)}
		}
	}
	if old != nil && old.Organisation != "" {
		if err := b.Delete(orgIndexKey(old)); err != nil {
			return err
		}
	}
	if !named {
		return nil
	}
	return b.Put(orgIndexKey(cur), nil)
}

// AddOrganisation stores a new organisation; node.ErrConflict when the
// slug is taken.
func (s *Store) AddOrganisation(ctx context.Context, o node.Organisation) error {
	return s.addNew(ctx, bucketOrgs, "organisation", "slug", o.Slug, o)
}

// GetOrganisation returns the organisation, or node.ErrNotFound.
func (s *Store) GetOrganisation(ctx context.Context, slug string) (node.Organisation, error) {
	if err := ctx.Err(); err != nil {
		return node.Organisation{}, err
	}
	var o node.Organisation
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketOrgs).Get([]byte(slug))
		if v == nil {
			return fmt.Errorf("organisation %q: %w", slug, node.ErrNotFound)
		}
		if err := json.Unmarshal(v, &o); err != nil {
			return fmt.Errorf("organisation %q: decode stored record: %w", slug, err)
		}
		return nil
	})
	return o, err
}

// ListOrganisations returns every organisation sorted by slug.
func (s *Store) ListOrganisations(ctx context.Context) ([]node.Organisation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []node.Organisation
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOrgs).ForEach(func(k, v []byte) error {
			var o node.Organisation
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("organisation %q: decode stored record: %w", k, err)
			}
			out = append(out, o)
			return nil
		})
	})
	return out, err
}

func orgPrefix(slug string) []byte { return append([]byte(slug), 0) }

func countPrefix(b *bbolt.Bucket, prefix []byte) int {
	n := 0
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	return n
}

// RemoveOrganisation deletes the organisation when no resource and no
// user names it; otherwise it changes nothing and returns the counts.
func (s *Store) RemoveOrganisation(ctx context.Context, slug string) (int, int, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	var res, users int
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketOrgs).Get([]byte(slug)) == nil {
			return fmt.Errorf("organisation %q: %w", slug, node.ErrNotFound)
		}
		res = countPrefix(tx.Bucket(bucketOrgResources), orgPrefix(slug))
		err := tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var u node.User
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("user %q: decode stored record: %w", k, err)
			}
			if u.Organisation == slug {
				users++
			}
			return nil
		})
		if err != nil || res > 0 || users > 0 {
			return err
		}
		return tx.Bucket(bucketOrgs).Delete([]byte(slug))
	})
	return res, users, err
}

// SetUserOrganisation attaches a user to an existing organisation, or
// detaches them with "".
func (s *Store) SetUserOrganisation(ctx context.Context, name, slug string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		if slug != "" && tx.Bucket(bucketOrgs).Get([]byte(slug)) == nil {
			return fmt.Errorf("organisation %q: %w", slug, node.ErrNotFound)
		}
		u.Organisation = slug
		return putJSON(tx.Bucket(bucketUsers), name, u)
	})
}

// OrganisationResources returns the ids of the organisation's resources,
// newest first, at most limit, and how many there are.
func (s *Store) OrganisationResources(ctx context.Context, slug string, limit int) ([]string, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var ids []string
	total := 0
	prefix := orgPrefix(slug)
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOrgResources).Cursor()
		// Newest first: walk backwards from just past the prefix.
		end := append(append([]byte(nil), prefix[:len(prefix)-1]...), 1)
		k, _ := c.Seek(end)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			total++
			if len(ids) < limit && len(k) > len(prefix)+8 {
				ids = append(ids, string(k[len(prefix)+8:]))
			}
		}
		return nil
	})
	return ids, total, err
}

func downloadKey(month, id string) []byte {
	return append(append([]byte(month), 0), id...)
}

// AddDownloads adds counts of file downloads for one month ("YYYY-MM"),
// keyed by resource id, in one transaction.
func (s *Store) AddDownloads(ctx context.Context, month string, counts map[string]uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDownloads)
		for id, n := range counts {
			k := downloadKey(month, id)
			if err := b.Put(k, u64(readU64(b.Get(k))+n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Downloads sums the month's download counts of the given resources.
func (s *Store) Downloads(ctx context.Context, month string, ids []string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n uint64
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketDownloads)
		for _, id := range ids {
			n += readU64(b.Get(downloadKey(month, id)))
		}
		return nil
	})
	return n, err
}
