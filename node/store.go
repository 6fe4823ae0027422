package node

import (
	"context"
	"io"
	"time"
)

// Blob identifies stored bytes by their SHA-256 (lowercase hex).
type Blob struct {
	SHA256 string
	Size   int64
}

// BlobReader reads a stored blob; Seek lets HTTP range requests skip ahead
// without reading what they do not send.
type BlobReader interface {
	io.ReadSeekCloser
	Size() int64
}

// Blobs is a content-addressed byte store. Implementations: storage/blob
// (local disk, S3).
type Blobs interface {
	// Put streams r into the store and returns its digest and size. Nothing
	// becomes visible under the digest until every byte is written and, when
	// wantSHA256 is not empty, the digest matches it (else
	// ErrDigestMismatch). A read error from r aborts the write and stores
	// nothing. Storing bytes that already exist is cheap and harmless.
	Put(ctx context.Context, r io.Reader, wantSHA256 string) (Blob, error)
	// Open returns ErrNotFound when no blob has that digest.
	Open(ctx context.Context, sha256 string) (BlobReader, error)
	// Stat returns the blob's size, or ErrNotFound.
	Stat(ctx context.Context, sha256 string) (int64, error)
	// Delete removes a blob; a missing blob is not an error.
	Delete(ctx context.Context, sha256 string) error
	// Walk calls fn for every stored blob (used by doctor and migration).
	Walk(ctx context.Context, fn func(Blob) error) error
}

// Change is one entry of the catalog's change feed. The catalog appends it in
// the same transaction as the change itself, so workers that follow the feed
// (search index, federation) never miss a write, even after a crash.
type Change struct {
	Seq        uint64    `json:"seq"`
	ResourceID string    `json:"resource_id"`
	Deleted    bool      `json:"deleted"`
	At         time.Time `json:"at"`
	// Collection, when set, is the id of the collection that changed
	// (ResourceID is then empty): followers of the feed that only know
	// resources skip these entries.
	Collection string `json:"collection,omitempty"`
}

// ListOptions pages a listing, newest first.
type ListOptions struct {
	// After is the cursor returned by the previous page; empty for the first.
	After string
	Limit int
	// Origin filters: "local", "remote" or "" for all.
	Origin string
}

// CatalogReader reads the catalog's resources: what read-only workers (the
// Indexer) and harvesters need.
type CatalogReader interface {
	Get(ctx context.Context, id string) (Resource, error)
	// List returns a page, newest created first, and the cursor of the next
	// page ("" at the end).
	List(ctx context.Context, opt ListOptions) ([]Resource, string, error)
	// Count and CountLocal return the number of resources, all of them or
	// only this node's own (not copies); both are kept up to date by the
	// writes, not counted when asked.
	Count(ctx context.Context) (int, error)
	CountLocal(ctx context.Context) (int, error)
}

// Catalog stores resources and their file records: what Service writes
// through. Implementation: storage/catalog (bbolt), which also implements
// ChangeFeed: each write appends its Change in the same transaction.
type Catalog interface {
	CatalogReader
	// Create stores a new resource; ErrConflict when the id exists.
	Create(ctx context.Context, r Resource) error
	// Update applies fn to the stored resource atomically and returns the
	// result and the digests no resource references any more.
	Update(ctx context.Context, id string, fn func(*Resource) error) (Resource, []string, error)
	// UpsertMany creates or replaces resources in one transaction; check
	// sees the stored version (nil if none) and may refuse an item, whose
	// error is returned at its index in the second result.
	UpsertMany(ctx context.Context, rs []Resource, check func(old, r *Resource) error) ([]string, []error, error)
	// Delete removes a resource and returns it and the digests no resource
	// references any more.
	Delete(ctx context.Context, id string) (Resource, []string, error)
	// BlobRefs counts the file records pointing at a digest.
	BlobRefs(ctx context.Context, sha256 string) (int, error)
}

// ChangeFeed is the catalog's log of changes and the cursors of the workers
// that follow it (the Indexer, the federation publisher). Implementation:
// storage/catalog.
type ChangeFeed interface {
	// Changes returns up to limit changes with Seq > after, oldest first.
	Changes(ctx context.Context, after uint64, limit int) ([]Change, error)
	// LastSeq is the newest change's sequence number.
	LastSeq(ctx context.Context) (uint64, error)
	// Cursor and SetCursor persist how far a named worker has followed the
	// change feed.
	Cursor(ctx context.Context, name string) (uint64, error)
	SetCursor(ctx context.Context, name string, seq uint64) error
}

// Roles a user may have.
const (
	RoleAdmin  = "admin"
	RoleEditor = "editor"
)

// User is an account of the node.
type User struct {
	Name         string    `json:"name"`
	Role         string    `json:"role"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Created      time.Time `json:"created"`
	// SessionEpoch is the generation of the user's web sessions: a session
	// cookie carries the value it was issued under, and raising it (logout,
	// password change) ends every session issued before.
	SessionEpoch int64 `json:"session_epoch,omitempty"`
	// Organisation is the slug of the member organisation the user works
	// for: an editor changes only that organisation's resources.
	Organisation string `json:"organisation,omitempty"`
}

// Token is an API token; only the SHA-256 of the secret is stored.
type Token struct {
	Hash    string    `json:"hash"`
	User    string    `json:"user"`
	Created time.Time `json:"created"`
}

// Accounts stores users and tokens. Implementation: storage/catalog.
type Accounts interface {
	AddUser(ctx context.Context, u User) error // ErrConflict when the name exists
	GetUser(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// RemoveUser deletes the user and all their tokens.
	RemoveUser(ctx context.Context, name string) error
	// SetPasswordHash replaces the hash and raises SessionEpoch.
	SetPasswordHash(ctx context.Context, name, hash string) error
	// EndSessions raises the user's SessionEpoch.
	EndSessions(ctx context.Context, name string) error
	AddToken(ctx context.Context, t Token) error
	// TokenUser returns the user owning the token with this hash.
	TokenUser(ctx context.Context, hash string) (User, error)
}
