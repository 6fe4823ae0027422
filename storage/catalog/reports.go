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

func openKey(resourceID, reportID string) []byte {
	return []byte(resourceID + "\x00" + reportID)
}

// AddReport stores r; node.ErrTooMany when its resource already has maxOpen
// open reports. Counting and writing are one transaction, so parallel
// reports cannot overshoot the bound.
func (s *Store) AddReport(ctx context.Context, r node.Report, maxOpen int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.ID == "" || r.ResourceID == "" {
		return fmt.Errorf("report: id and resource required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		reports, open := tx.Bucket(bucketReports), tx.Bucket(bucketOpenReports)
		if reports.Get([]byte(r.ID)) != nil {
			return fmt.Errorf("report %s already exists: %w", r.ID, node.ErrConflict)
		}
		if r.Open() && maxOpen > 0 {
			prefix := openKey(r.ResourceID, "")
			n := 0
			c := open.Cursor()
			for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
				if n++; n >= maxOpen {
					return fmt.Errorf("resource %q already has %d open reports: %w", r.ResourceID, n, node.ErrTooMany)
				}
			}
		}
		if err := putJSON(reports, r.ID, r); err != nil {
			return err
		}
		if r.Open() {
			return open.Put(openKey(r.ResourceID, r.ID), nil)
		}
		return nil
	})
}

func getReport(tx *bbolt.Tx, id string) (node.Report, error) {
	var r node.Report
	v := tx.Bucket(bucketReports).Get([]byte(id))
	if v == nil {
		return r, fmt.Errorf("report %q: %w", id, node.ErrNotFound)
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("report %q: decode stored record: %w", id, err)
	}
	return r, nil
}

// GetReport returns a report or node.ErrNotFound.
func (s *Store) GetReport(ctx context.Context, id string) (node.Report, error) {
	if err := ctx.Err(); err != nil {
		return node.Report{}, err
	}
	var r node.Report
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		r, err = getReport(tx, id)
		return err
	})
	return r, err
}

// ListReports returns reports oldest first.
func (s *Store) ListReports(ctx context.Context, f node.ReportFilter) ([]node.Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []node.Report
	err := s.db.View(func(tx *bbolt.Tx) error {
		if f.OpenOnly {
			return tx.Bucket(bucketOpenReports).ForEach(func(k, _ []byte) error {
				i := bytes.IndexByte(k, 0)
				r, err := getReport(tx, string(k[i+1:]))
				if err != nil {
					return err
				}
				out = append(out, r)
				return nil
			})
		}
		return tx.Bucket(bucketReports).ForEach(func(k, v []byte) error {
			var r node.Report
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("report %q: decode stored record: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// UpdateReport applies fn to the stored report atomically and keeps the
// open-report index in step.
func (s *Store) UpdateReport(ctx context.Context, id string, fn func(*node.Report) error) (node.Report, error) {
	if err := ctx.Err(); err != nil {
		return node.Report{}, err
	}
	var r node.Report
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		if r, err = getReport(tx, id); err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
		if r.ID != id {
			return fmt.Errorf("report %q: the id cannot change: %w", id, node.ErrInvalid)
		}
		if err := putJSON(tx.Bucket(bucketReports), id, r); err != nil {
			return err
		}
		open := tx.Bucket(bucketOpenReports)
		if r.Open() {
			return open.Put(openKey(r.ResourceID, r.ID), nil)
		}
		return open.Delete(openKey(r.ResourceID, r.ID))
	})
	return r, err
}

// OpenReports counts the open reports.
func (s *Store) OpenReports(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketOpenReports).Stats().KeyN
		return nil
	})
	return n, err
}
