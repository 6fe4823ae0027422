package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// Revision is one change of a resource, as its history keeps it: which
// metadata fields changed (before and after), which files were added,
// replaced or removed, who made it and when. The catalog writes it in the
// same transaction as the change (storage/catalog: Revise is called on
// every resource write), so a change never lacks its revision nor the
// reverse.
type Revision struct {
	// Version is the resource's version after this change: 1 at creation
	// (or when a copy first arrived), then one more per change.
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	// By is the account that made a local change; empty for the node's
	// operator (CLI, kit import) and for copies. Like Resource.CreatedBy,
	// it is not shown to visitors.
	By string `json:"by,omitempty"`
	// Hub is the hub that made the change: this hub for a local resource,
	// the origin hub for a copy from another hub.
	Hub string `json:"hub"`
	// Created marks the first version (a publication, or a copy's arrival).
	Created bool          `json:"created,omitempty"`
	Fields  []FieldChange `json:"fields,omitempty"`
	Files   []FileChange  `json:"files,omitempty"`
}

// FieldChange is one metadata field that changed. Lists (themes, audience,
// authors) are written joined by ", ". A value longer than
// MaxRevisionText bytes (a long description) is cut at a character
// boundary; its full length in bytes and its SHA-256 then say which text
// it was, so a history stays small whatever the descriptions weigh.
type FieldChange struct {
	Field        string `json:"field"`
	Before       string `json:"before"`
	After        string `json:"after"`
	BeforeLength int    `json:"before_length,omitempty"`
	BeforeSHA256 string `json:"before_sha256,omitempty"`
	AfterLength  int    `json:"after_length,omitempty"`
	AfterSHA256  string `json:"after_sha256,omitempty"`
}

// File changes.
const (
	FileAdded    = "added"
	FileReplaced = "replaced"
	FileRemoved  = "removed"
)

// FileChange is one file added, replaced (other bytes under the same
// name) or removed. The digests are the local blob's, or for a copy's file
// that is not mirrored the one its origin announced.
type FileChange struct {
	Name   string `json:"name"`
	Change string `json:"change"`
	Before string `json:"before_sha256,omitempty"`
	After  string `json:"after_sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

const (
	// MaxRevisionText bounds a field's before or after text in a revision.
	MaxRevisionText = 1000
	// MaxRevisions is how many revisions a resource keeps: past it, the
	// oldest are dropped (version numbers go on counting), so a peer
	// sending updates in a loop cannot grow a copy's history without end.
	MaxRevisions = 1000
)

// Revise decides what writing cur over old (nil for a new resource)
// records in the history: it sets cur.Version and returns the revision,
// or nil when nothing the history tracks changed (a re-import of the same
// kit, a backfill of an unchanged copy): the version is then kept. The
// catalog calls it inside the write's transaction, with the stored old
// version, so the diff is exact even when writes race.
func Revise(ctx context.Context, old, cur *Resource) *Revision {
	rev := &Revision{At: cur.Updated.UTC(), Hub: cur.Hub}
	if rev.At.IsZero() {
		rev.At = time.Now().UTC()
	}
	if cur.Local() {
		if u, ok := ActorFrom(ctx); ok {
			rev.By = u.Name
		}
	}
	if old == nil {
		rev.Created = true
		rev.Files = diffFiles(nil, cur.Files)
		rev.Version = 1
		cur.Version = 1
		return rev
	}
	rev.Fields = diffFields(old, cur)
	rev.Files = diffFiles(old.Files, cur.Files)
	if len(rev.Fields) == 0 && len(rev.Files) == 0 {
		cur.Version = old.Version
		return nil
	}
	// A resource stored before histories existed has no version: its
	// stored state counts as version 1.
	rev.Version = max(old.Version, 1) + 1
	cur.Version = rev.Version
	return rev
}

// diffFields compares every Metadata field (by reflection, so a field
// added to Metadata is tracked without touching this) and a copy's
// organisation name, in the order of the JSON.
func diffFields(old, cur *Resource) []FieldChange {
	var out []FieldChange
	ov, cv := reflect.ValueOf(old.Metadata), reflect.ValueOf(cur.Metadata)
	for _, f := range reflect.VisibleFields(ov.Type()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		b, a := fieldText(ov.FieldByIndex(f.Index)), fieldText(cv.FieldByIndex(f.Index))
		if b != a {
			out = append(out, fieldChange(name, b, a))
		}
	}
	if old.OrganisationName != cur.OrganisationName && !cur.Local() {
		out = append(out, fieldChange("organisation_name", old.OrganisationName, cur.OrganisationName))
	}
	return out
}

func fieldText(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ", ")
	default:
		return fmt.Sprint(v.Interface())
	}
}

func fieldChange(name, before, after string) FieldChange {
	c := FieldChange{Field: name}
	c.Before, c.BeforeLength, c.BeforeSHA256 = capText(before)
	c.After, c.AfterLength, c.AfterSHA256 = capText(after)
	return c
}

// capText keeps s whole when it fits, else its first MaxRevisionText
// bytes (cut at a character boundary) with the full length and digest.
func capText(s string) (string, int, string) {
	if len(s) <= MaxRevisionText {
		return s, 0, ""
	}
	cut := MaxRevisionText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	sum := sha256.Sum256([]byte(s))
	return s[:cut], len(s), hex.EncodeToString(sum[:])
}

// fileDigest is the digest that says which bytes a file record holds.
func fileDigest(f File) string {
	if f.SHA256 != "" {
		return f.SHA256
	}
	return f.RemoteSHA256
}

// diffFiles lists files removed (in the old order), then replaced and
// added (in the new order).
func diffFiles(old, cur []File) []FileChange {
	var out []FileChange
	now := make(map[string]File, len(cur))
	for _, f := range cur {
		now[f.Name] = f
	}
	was := make(map[string]File, len(old))
	for _, f := range old {
		was[f.Name] = f
		if _, ok := now[f.Name]; !ok {
			out = append(out, FileChange{Name: f.Name, Change: FileRemoved, Before: fileDigest(f), Size: f.Size})
		}
	}
	for _, f := range cur {
		p, ok := was[f.Name]
		switch {
		case !ok:
			out = append(out, FileChange{Name: f.Name, Change: FileAdded, After: fileDigest(f), Size: f.Size})
		case fileDigest(p) != fileDigest(f):
			out = append(out, FileChange{Name: f.Name, Change: FileReplaced, Before: fileDigest(p), After: fileDigest(f), Size: f.Size})
		}
	}
	return out
}

// Histories reads resources' histories: an optional interface of the
// Catalog (storage/catalog implements it).
type Histories interface {
	// History returns a page of the resource's revisions, newest first,
	// and the cursor of the next page ("" at the end); ErrNotFound when
	// the resource does not exist, ErrInvalid for a cursor it did not
	// issue.
	History(ctx context.Context, id string, after string, limit int) ([]Revision, string, error)
}

// History returns a page of a resource's revisions, newest first.
func (s *Service) History(ctx context.Context, id, after string, limit int) ([]Revision, string, error) {
	if err := ValidateID(id); err != nil {
		return nil, "", fmt.Errorf("resource %q: %w", id, ErrNotFound)
	}
	h, ok := s.catalog.(Histories)
	if !ok {
		return nil, "", fmt.Errorf("resource history: %w", ErrUnavailable)
	}
	if limit <= 0 || limit > MaxPerPage {
		limit = DefaultPerPage
	}
	return h.History(ctx, id, after, limit)
}
