package node

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// BlobBatch stages blobs so that many of them become durable with a few
// disk syncs instead of two per blob (group commit).
type BlobBatch interface {
	// Put writes r like Blobs.Put, but the blob is stored under its digest
	// only once Commit returns nil: until then nothing names it, so a crash
	// leaves at most a temp file behind.
	Put(ctx context.Context, r io.Reader, wantSHA256 string) (Blob, error)
	// Discard gives up one staged copy of the digest (its publication was
	// refused after its files were staged). It reports false when the
	// bytes may be stored already (placed, or a store without batches):
	// the caller then drops the blob once nothing references it.
	Discard(sha256 string) (unstaged bool)
	// Place makes the staged bytes durable, then stores each blob under
	// its digest; the names are durable once Commit returns. It lets a
	// bulk import place one batch while another commits. On error nothing
	// staged is left behind (a blob may already be stored under its
	// digest, unreferenced, which is harmless).
	Place(ctx context.Context) error
	// Commit places the blobs if Place was not called, then makes their
	// names durable: every staged blob is then durable and stored under
	// its digest. On error, as Place.
	Commit(ctx context.Context) error
	// Abort removes what is staged; after Commit it does nothing.
	Abort()
}

// BatchBlobs is implemented by blob stores that can make many blobs
// durable at once (storage/blob's Disk: two syncfs per batch). It is
// optional: on any other Blobs, a PublishBatch stores each blob with Put.
type BatchBlobs interface {
	NewBatch() (BlobBatch, error)
}

// NewBlobBatch starts a batch on b: its own when b is a BatchBlobs, else
// one whose Put is b.Put (each blob durable on its own, Commit has nothing
// left to do). Wrappers of a store (metrics) use it to keep the store's
// group commit.
func NewBlobBatch(b Blobs) (BlobBatch, error) {
	if bb, ok := b.(BatchBlobs); ok {
		return bb.NewBatch()
	}
	return directBatch{b}, nil
}

// directBatch is the BlobBatch of stores without one.
type directBatch struct{ b Blobs }

func (d directBatch) Put(ctx context.Context, r io.Reader, want string) (Blob, error) {
	return d.b.Put(ctx, r, want)
}
func (directBatch) Discard(string) bool          { return false }
func (directBatch) Place(context.Context) error  { return nil }
func (directBatch) Commit(context.Context) error { return nil }
func (directBatch) Abort()                       {}

// PublishBatch publishes many local resources together, as Publish does one
// at a time, with one durable commit: every resource's blobs are staged,
// then made durable together, then ONE catalog transaction records every
// publication of the batch (each its own record and change feed entry).
// Each publication stays all-or-nothing on its own: one refused (invalid
// metadata, licence, digest mismatch, id taken) is left out of the batch
// without failing the others. A crash before Commit returns leaves no
// resource of the batch, only unreferenced bytes; once Commit reports a
// publication done, it is durable.
//
// A batch is used by one goroutine; several batches may run at once (a
// bulk import stages the next batch while the previous one commits).
type PublishBatch struct {
	s     *Service
	blobs BlobBatch
	items []batchItem
	ids   map[string]bool
	// refused are the digests of publications refused by Add.
	refused  []string
	placed   bool
	placeErr error
	bytes    int64
	done     bool
}

type batchItem struct {
	r       Resource
	replace bool
	exists  bool
	digests []string
	size    int64
}

// NewPublishBatch starts a batch of publications.
func (s *Service) NewPublishBatch() (*PublishBatch, error) {
	bb, err := NewBlobBatch(s.blobs)
	if err != nil {
		return nil, fmt.Errorf("start a publication batch: %w", err)
	}
	return &PublishBatch{s: s, blobs: bb, ids: map[string]bool{}}, nil
}

// Len is the number of publications added and not refused.
func (b *PublishBatch) Len() int { return len(b.items) }

// Bytes is the size of the files staged so far.
func (b *PublishBatch) Bytes() int64 { return b.bytes }

// Add checks r like Publish and stages its files. An error refuses this
// publication alone: its staged files are discarded and the batch goes on.
// The returned resource is the one Commit will store (the id the node
// gave it when r had none).
func (b *PublishBatch) Add(ctx context.Context, r Resource, files Uploads, replace bool) (Resource, error) {
	if b.done || b.placed {
		return Resource{}, errors.New("publication batch already placed or committed")
	}
	s := b.s
	if len(r.Files) > 0 {
		return Resource{}, invalid("files", "files are uploaded with their bytes, not listed in the metadata")
	}
	if err := s.prepare(ctx, &r); err != nil {
		return Resource{}, err
	}
	if b.ids[r.ID] {
		// The catalog would apply both in one transaction; which one the
		// editor meant is theirs to say.
		return Resource{}, fmt.Errorf("resource %q is published twice in one batch: %w", r.ID, ErrConflict)
	}
	old, err := s.catalog.Get(ctx, r.ID)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return Resource{}, err
	case exists && !old.Local():
		return Resource{}, fmt.Errorf("id %q is taken by a copy of a resource from another hub; choose another id: %w", r.ID, ErrConflict)
	case exists && !replace:
		return Resource{}, fmt.Errorf("resource %q already exists: %w", r.ID, ErrConflict)
	}
	now := s.now().UTC()
	r.Created, r.Updated = now, now
	r.BasedOn = nil
	if exists {
		r.Created = old.Created
		if err := keepChain(&r, old); err != nil {
			return Resource{}, err
		}
	}
	var staged []string
	var size int64
	if files != nil {
		err := files(func(u Upload) error {
			f, err := s.storeBlobIn(ctx, b.blobs, u, func(d string) {
				if !b.blobs.Discard(d) {
					b.refused = append(b.refused, d)
				}
			})
			if err != nil {
				return err
			}
			staged = append(staged, f.SHA256)
			size += f.Size
			return addFile(&r, f)
		})
		if err != nil {
			// A store without batches stored them already: they are
			// dropped after the batch if nothing references them. Bytes
			// only staged are just removed: dropping a stored blob of the
			// same digest could take it from another batch in flight.
			for _, d := range staged {
				if !b.blobs.Discard(d) {
					b.refused = append(b.refused, d)
				}
			}
			return Resource{}, err
		}
	}
	b.ids[r.ID] = true
	b.items = append(b.items, batchItem{r: r, replace: replace, exists: exists, digests: staged, size: size})
	b.bytes += size
	return r, nil
}

// Drop takes the publication of id out of the batch before Commit and
// discards its staged files; it reports whether there was one.
func (b *PublishBatch) Drop(id string) bool {
	if b.done || !b.ids[id] {
		return false
	}
	for i, it := range b.items {
		if it.r.ID == id {
			for _, d := range it.digests {
				if !b.blobs.Discard(d) {
					b.refused = append(b.refused, d)
				}
			}
			b.bytes -= it.size
			b.items = append(b.items[:i], b.items[i+1:]...)
			delete(b.ids, id)
			return true
		}
	}
	return false
}

// Place makes the files staged so far durable and stores them under their
// digests (BlobBatch.Place), without recording any publication: the
// caller may then Commit while it stages the next batch. No Add may
// follow. An error here fails the whole batch at Commit.
func (b *PublishBatch) Place(ctx context.Context) error {
	if b.done || b.placed {
		return nil
	}
	b.placed = true
	if len(b.items) == 0 {
		return nil
	}
	b.placeErr = b.blobs.Place(ctx)
	return b.placeErr
}

// Abort gives up every publication of the batch and removes its staged
// files.
func (b *PublishBatch) Abort() {
	if b.done {
		return
	}
	b.done = true
	b.blobs.Abort()
	b.s.dropUnreferenced(context.Background(), append(b.allDigests(), b.refused...))
}

func (b *PublishBatch) allDigests() []string {
	var all []string
	for _, it := range b.items {
		all = append(all, it.digests...)
	}
	return all
}

// Commit stores every publication added, in the order of Add: the blobs are
// made durable first, then one catalog transaction records the resources.
// It returns, per publication, the stored resource or why it was refused;
// err is set when the whole batch failed (every errs[i] then says so too).
func (b *PublishBatch) Commit(ctx context.Context) (out []Resource, errs []error, err error) {
	if b.done {
		return nil, nil, errors.New("publication batch already committed")
	}
	b.done = true
	s := b.s
	out = make([]Resource, len(b.items))
	errs = make([]error, len(b.items))
	failAll := func(err error) ([]Resource, []error, error) {
		for i := range errs {
			errs[i] = err
		}
		s.dropUnreferenced(ctx, append(b.allDigests(), b.refused...))
		return out, errs, err
	}
	if len(b.items) == 0 {
		b.blobs.Abort()
		s.dropUnreferenced(ctx, b.refused)
		return out, errs, nil
	}
	if b.placeErr != nil {
		b.blobs.Abort()
		return failAll(fmt.Errorf("store the files of the batch: %w", b.placeErr))
	}
	if err := b.blobs.Commit(ctx); err != nil {
		return failAll(fmt.Errorf("store the files of the batch: %w", err))
	}
	var orphans []string
	var dropped []string // digests of publications refused at this stage
	stored := 0
	err = func() error {
		unlock := s.lockDigests(b.allDigests())
		defer unlock()
		// A concurrent delete may have removed an identical blob between
		// its storage and now: the publications using it are refused, the
		// others go on.
		missing := map[string]error{}
		for _, it := range b.items {
			for _, d := range it.digests {
				if _, seen := missing[d]; seen {
					continue
				}
				missing[d] = nil
				if _, err := s.blobs.Stat(ctx, d); err != nil {
					if errors.Is(err, ErrNotFound) {
						err = fmt.Errorf("blob %s was removed while publishing; publish again: %w", d, ErrConflict)
					}
					missing[d] = err
				}
			}
		}
		var batch []Resource
		var at []int
		byID := map[string]int{}
		for i, it := range b.items {
			for _, d := range it.digests {
				if missing[d] != nil {
					errs[i] = missing[d]
					break
				}
			}
			if errs[i] != nil {
				dropped = append(dropped, it.digests...)
				continue
			}
			byID[it.r.ID] = i
			batch = append(batch, it.r)
			at = append(at, i)
		}
		if len(batch) == 0 {
			return nil
		}
		o, itemErrs, err := s.catalog.UpsertMany(ctx, batch, func(old, r *Resource) error {
			it := b.items[byID[r.ID]]
			if old == nil {
				if it.exists {
					return fmt.Errorf("resource %q was deleted while it was being published: %w", r.ID, ErrConflict)
				}
				return nil
			}
			if !old.Local() {
				return fmt.Errorf("resource %q comes from another hub: %w", r.ID, ErrForbidden)
			}
			if !it.replace {
				return fmt.Errorf("resource %q already exists: %w", r.ID, ErrConflict)
			}
			r.Created = old.Created
			return keepChain(r, *old)
		})
		if err != nil {
			return err
		}
		orphans = o
		for j, i := range at {
			if j < len(itemErrs) && itemErrs[j] != nil {
				errs[i] = itemErrs[j]
				dropped = append(dropped, b.items[i].digests...)
				continue
			}
			out[i] = batch[j]
			stored++
		}
		return nil
	}()
	if err != nil {
		return failAll(err)
	}
	if stored > 0 {
		s.changed()
	}
	s.dropUnreferenced(ctx, orphans)
	s.dropUnreferenced(ctx, append(dropped, b.refused...))
	return out, errs, nil
}

// lockDigests takes the locks of digests (see withDigests) and returns
// their release.
func (s *Service) lockDigests(digests []string) func() {
	idx := map[int]bool{}
	for _, d := range digests {
		idx[stripe(d)] = true
	}
	var held []int
	for i := range s.digestLocks { // fixed order: no deadlock
		if idx[i] {
			s.digestLocks[i].Lock()
			held = append(held, i)
		}
	}
	return func() {
		for _, i := range held {
			s.digestLocks[i].Unlock()
		}
	}
}
