package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"path"
	"strings"
	"sync"
	"time"
)

// DefaultMaxFileSize is the upload limit when none is configured: 2 GiB.
const DefaultMaxFileSize int64 = 2 << 30

// Config wires a Service to its stores.
type Config struct {
	Catalog  Catalog
	Accounts Accounts
	// Organisations keeps the hub's member organisations; nil means the
	// node keeps none (every resource then has none).
	Organisations Organisations
	// Downloads persists monthly download counts; nil counts nothing.
	Downloads Downloads
	Blobs     Blobs
	Policy    *Policy
	// Hub is this node's hub slug, used for resources that do not name one.
	Hub         string
	MaxFileSize int64
	Logger      *slog.Logger
	Now         func() time.Time
	// Changed is called after each committed change, to wake the workers
	// that follow the catalog's change feed (search index, federation).
	Changed func()
	// Index answers searches; nil means search is unavailable.
	Index Index
	// Reports stores reports; nil means reports are unavailable.
	Reports Reports
	// ForwardReport, when set, sends a report about a copy to the copy's
	// origin (the federation's Flag); the report has no contact.
	ForwardReport func(ctx context.Context, res Resource, r Report) error
	// Collections stores collections; nil means the node keeps none.
	Collections Collections
	// Adaptations lists the adaptations other hubs made of local
	// resources; nil keeps none (adapt.go).
	Adaptations Adaptations
}

// Service is the hub's domain: every edge (HTTP, CLI, federation) goes
// through it, so validation, licence policy and write ordering live in one
// place.
type Service struct {
	catalog  Catalog
	accounts Accounts
	orgs     Organisations
	dls      *DownloadCounter
	blobs    Blobs
	policy   *Policy
	hub      string
	maxFile  int64
	log      *slog.Logger
	now      func() time.Time
	changed  func()
	index    Index
	reports  Reports
	// forwardReport sends reports about copies to their origin.
	forwardReport func(ctx context.Context, res Resource, r Report) error
	// sharer announces shared copies to the followers (share.go).
	sharer Sharer
	// digestLocks serialise "reference a blob" against "delete an
	// unreferenced blob" for the same digest, so a concurrent upload of
	// identical bytes never ends up pointing at a blob just removed.
	digestLocks [64]sync.Mutex
	// crc finds blobs' CRC-32 for kit zips (checksum.go).
	crc *crcCache
	// colls stores collections (collection.go); nil keeps none.
	colls Collections
	// adaptations and fetch serve adaptations (adapt.go).
	adaptations Adaptations
	fetch       Fetch
}

// New returns a Service. Missing optional parts get defaults.
func New(cfg Config) (*Service, error) {
	if cfg.Catalog == nil || cfg.Blobs == nil {
		return nil, errors.New("node: a catalog and a blob store are required")
	}
	if cfg.Policy == nil {
		p, err := NewPolicy()
		if err != nil {
			return nil, err
		}
		cfg.Policy = p
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Hub == "" {
		cfg.Hub = "local"
	}
	if cfg.Changed == nil {
		cfg.Changed = func() {}
	}
	var dls *DownloadCounter
	if cfg.Downloads != nil {
		dls = NewDownloadCounter(cfg.Downloads, cfg.Now)
	}
	return &Service{dls: dls,
		catalog: cfg.Catalog, accounts: cfg.Accounts, orgs: cfg.Organisations, blobs: cfg.Blobs, policy: cfg.Policy,
		hub: cfg.Hub, maxFile: cfg.MaxFileSize, log: cfg.Logger, now: cfg.Now, changed: cfg.Changed, index: cfg.Index,
		reports: cfg.Reports, forwardReport: cfg.ForwardReport,
		crc:   newCRCCache(cfg.Catalog, cfg.Logger),
		colls: cfg.Collections, adaptations: cfg.Adaptations,
	}, nil
}

// Policy returns the licence policy in force.
func (s *Service) Policy() *Policy { return s.policy }

// MaxFileSize is the upload limit in bytes.
func (s *Service) MaxFileSize() int64 { return s.maxFile }

// Hub is this node's hub slug.
func (s *Service) Hub() string { return s.hub }

// Count returns the number of resources, local and remote.
func (s *Service) Count(ctx context.Context) (int, error) { return s.catalog.Count(ctx) }

// CountLocal returns the number of this node's own resources (what its
// outbox and NodeInfo announce).
func (s *Service) CountLocal(ctx context.Context) (int, error) { return s.catalog.CountLocal(ctx) }

// Get returns a resource.
func (s *Service) Get(ctx context.Context, id string) (Resource, error) {
	if err := ValidateID(id); err != nil {
		return Resource{}, fmt.Errorf("resource %q: %w", id, ErrNotFound)
	}
	return s.catalog.Get(ctx, id)
}

// List returns a page of resources, newest first.
func (s *Service) List(ctx context.Context, opt ListOptions) ([]Resource, string, error) {
	if opt.Limit <= 0 || opt.Limit > 100 {
		opt.Limit = 20
	}
	return s.catalog.List(ctx, opt)
}

// Upload is one file to store with a resource. Body is read once.
type Upload struct {
	Name      string
	MediaType string
	Body      io.Reader
	// Size is the announced length, or -1 when unknown; an announced size
	// over the limit is refused before any byte is stored.
	Size int64
	// SHA256, when set, must match the bytes (kit folders may declare it).
	SHA256 string
}

// Uploads yields the files of a publication one at a time, so a multipart
// request or a kit folder can stream each body in turn.
type Uploads func(yield func(Upload) error) error

// Create validates and stores a new local resource without files.
func (s *Service) Create(ctx context.Context, r Resource) (Resource, error) {
	return s.Publish(ctx, r, nil, false)
}

// Publish stores a local resource together with its files in one step: the
// blobs are written first, then one catalog transaction makes the resource
// and all its files visible at once. With replace, an existing resource
// with the same id is replaced (metadata and files); without it, an existing
// id is a conflict.
func (s *Service) Publish(ctx context.Context, r Resource, files Uploads, replace bool) (Resource, error) {
	if len(r.Files) > 0 {
		return Resource{}, invalid("files", "files are uploaded with their bytes, not listed in the metadata")
	}
	if err := s.prepare(ctx, &r); err != nil {
		return Resource{}, err
	}
	old, err := s.catalog.Get(ctx, r.ID)
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return Resource{}, err
	case exists && !old.Local():
		// A copy never gives up its id to a local resource, and a local
		// resource never takes a copy's: the editor picks another id.
		return Resource{}, fmt.Errorf("id %q is taken by a copy of a resource from another hub; choose another id: %w", r.ID, ErrConflict)
	case exists && !replace:
		return Resource{}, fmt.Errorf("resource %q already exists: %w", r.ID, ErrConflict)
	}
	var oldp *Resource
	if exists {
		oldp = &old
		// A replaced adaptation keeps its attribution chain and its
		// licence rule (adapt.go); a new resource has no chain.
		if err := keepChain(&r, old); err != nil {
			return Resource{}, err
		}
	} else {
		r.BasedOn = nil
	}
	if err := s.assignOrganisation(ctx, &r, oldp); err != nil {
		return Resource{}, s.nameOwner(ctx, err)
	}
	now := s.now().UTC()
	r.Created, r.Updated = now, now
	if exists {
		r.Created = old.Created
	}
	var stored []string
	if files != nil {
		err := files(func(u Upload) error {
			f, err := s.storeBlob(ctx, u)
			if err != nil {
				return err
			}
			stored = append(stored, f.SHA256)
			return addFile(&r, f)
		})
		if err != nil {
			s.dropUnreferenced(ctx, stored)
			return Resource{}, err
		}
	}
	var orphans []string
	err = s.withDigests(ctx, stored, func() error {
		if !exists {
			if err := s.catalog.Create(ctx, r); err != nil {
				return err
			}
			r.Version = 1 // what the catalog stored (Revise, history.go)
			return nil
		}
		var err error
		var saved Resource
		saved, orphans, err = s.catalog.Update(ctx, r.ID, func(cur *Resource) error {
			if !cur.Local() {
				return fmt.Errorf("resource %q comes from another hub: %w", r.ID, ErrForbidden)
			}
			if err := checkOwner(ctx, *cur); err != nil {
				return err
			}
			r.Created = cur.Created
			if err := keepChain(&r, *cur); err != nil {
				return err
			}
			*cur = r
			return nil
		})
		r.Version = saved.Version
		return err
	})
	if err != nil {
		s.dropUnreferenced(ctx, stored)
		return Resource{}, s.nameOwner(ctx, err)
	}
	s.changed()
	s.dropUnreferenced(ctx, orphans)
	return r, nil
}

// prepare fills defaults, then validates metadata and licence.
func (s *Service) prepare(ctx context.Context, r *Resource) error {
	r.Normalize()
	if r.Language == "" {
		r.Language = "fr"
	}
	// A local resource is this hub's, whatever the form, the API or a kit
	// says: a resource labelled with another hub's name would lie in
	// search by hub and in credit lines.
	r.Hub = s.hub
	if r.Published == "" {
		r.Published = s.now().UTC().Format(dateLayout)
	}
	r.Origin = ""
	r.OrganisationName, r.OrganisationURL = "", "" // a copy's fields, never a local resource's
	if r.ID == "" {
		id, err := freeID(ctx, Slugify(r.Title), func(ctx context.Context, id string) error {
			_, err := s.catalog.Get(ctx, id)
			return err
		})
		if err != nil {
			return err
		}
		r.ID = id
	}
	if err := r.Validate(); err != nil {
		return err
	}
	return s.policy.Check(r.License)
}

// freeID finds an unused id from a slug by adding -2, -3, ...: lookup
// answers ErrNotFound for a free id (resources and collections each have
// their own).
func freeID(ctx context.Context, base string, lookup func(context.Context, string) error) (string, error) {
	if base == "" {
		return "", invalid("title", "required")
	}
	for i := 1; i < 1000; i++ {
		id := base
		if i > 1 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		err := lookup(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return id, nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("no free id for %q: %w", base, ErrConflict)
}

// Patch holds the fields an update changes; nil fields are kept.
type Patch struct {
	Title       *string   `json:"title"`
	Summary     *string   `json:"summary"`
	Description *string   `json:"description"`
	Kind        *string   `json:"kind"`
	Themes      *[]string `json:"themes"`
	Audience    *[]string `json:"audience"`
	Level       *string   `json:"level"`
	License     *string   `json:"license"`
	Language    *string   `json:"language"`
	Authors     *[]string `json:"authors"`
	Hub         *string   `json:"hub"`
	Published   *string   `json:"published"`
	// Organisation gives the resource to another organisation of this hub
	// ("" for none): admins only, or an editor naming their own.
	Organisation *string `json:"organisation,omitempty"`
}

func (p Patch) apply(r *Resource) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	setList := func(dst *[]string, v *[]string) {
		if v != nil {
			*dst = append([]string(nil), (*v)...)
		}
	}
	set(&r.Title, p.Title)
	set(&r.Summary, p.Summary)
	set(&r.Description, p.Description)
	set(&r.Kind, p.Kind)
	setList(&r.Themes, p.Themes)
	setList(&r.Audience, p.Audience)
	set(&r.Level, p.Level)
	set(&r.License, p.License)
	set(&r.Language, p.Language)
	setList(&r.Authors, p.Authors)
	set(&r.Hub, p.Hub)
	set(&r.Published, p.Published)
	set(&r.Organisation, p.Organisation)
}

// Update changes the metadata of a local resource.
func (s *Service) Update(ctx context.Context, id string, p Patch) (Resource, error) {
	if err := ValidateID(id); err != nil {
		return Resource{}, fmt.Errorf("resource %q: %w", id, ErrNotFound)
	}
	var orgName string
	if p.Organisation != nil && strings.TrimSpace(*p.Organisation) != "" {
		// Checked before the transaction (the catalog checks again in it).
		o, err := s.lookupOrganisation(ctx, "organisation", strings.TrimSpace(*p.Organisation))
		if err != nil {
			return Resource{}, err
		}
		orgName = o.Name
	}
	r, _, err := s.catalog.Update(ctx, id, func(r *Resource) error {
		if !r.Local() {
			return fmt.Errorf("resource %q comes from another hub and is edited there: %w", id, ErrForbidden)
		}
		if err := checkOwner(ctx, *r); err != nil {
			return err
		}
		was, wasLicence := r.Organisation, r.License
		p.apply(r)
		if u, ok := ActorFrom(ctx); ok && u.Role != RoleAdmin && r.Organisation != was {
			return &OwnerError{User: u.Name, UserOrganisation: u.Organisation, Moving: true, Giving: r.Organisation}
		}
		if p.Organisation != nil {
			r.OrganisationName = orgName
		}
		r.Hub = s.hub // never another hub's name (see prepare)
		r.Normalize()
		if err := r.Validate(); err != nil {
			return err
		}
		if err := s.policy.Check(r.License); err != nil {
			return err
		}
		if r.License != wasLicence {
			// An adaptation's licence follows its sources' rules.
			if err := checkChainLicence(r.BasedOn, r.License); err != nil {
				return err
			}
		}
		r.Updated = s.now().UTC()
		return nil
	})
	if err != nil {
		return Resource{}, s.nameOwner(ctx, err)
	}
	s.changed()
	return r, nil
}

// Delete removes a local resource and the blobs only it used. A copy from
// another hub is changed only by its origin, like every other write: an
// editor's delete would free its id and the origin's later updates would
// be lost; an admin drops a copy for good through federation instead.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := ValidateID(id); err != nil {
		return fmt.Errorf("resource %q: %w", id, ErrNotFound)
	}
	cur, err := s.catalog.Get(ctx, id)
	if err != nil {
		return err
	}
	if !cur.Local() {
		return fmt.Errorf("resource %q comes from another hub and is deleted there (an admin can drop the copy: communs peer drop %s): %w", id, id, ErrForbidden)
	}
	if err := checkOwner(ctx, cur); err != nil {
		return s.nameOwner(ctx, err)
	}
	_, orphans, err := s.catalog.Delete(ctx, id)
	if err != nil {
		return err
	}
	s.changed()
	s.dropUnreferenced(ctx, orphans)
	s.dropAdaptationsOf(ctx, id) // adapt.go
	s.unlistLocalAdaptation(ctx, cur)
	return nil
}

// PutFile adds or replaces one file of a local resource, streaming body into
// storage. The catalog records the file only once every byte is stored.
func (s *Service) PutFile(ctx context.Context, id string, u Upload) (File, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return File{}, err
	}
	if !r.Local() {
		return File{}, fmt.Errorf("resource %q comes from another hub: %w", id, ErrForbidden)
	}
	if err := checkOwner(ctx, r); err != nil {
		return File{}, s.nameOwner(ctx, err)
	}
	if _, ok := r.File(u.Name); !ok && len(r.Files) >= MaxFiles {
		return File{}, invalid("files", "at most %d files per resource", MaxFiles)
	}
	if err := ValidateFileName(u.Name); err != nil {
		return File{}, err
	}
	for _, f := range r.Files {
		if f.Name != u.Name {
			if err := CheckFileNamesDistinct([]string{f.Name, u.Name}); err != nil {
				return File{}, err
			}
		}
	}
	f, err := s.storeBlob(ctx, u)
	if err != nil {
		return File{}, err
	}
	var orphans []string
	err = s.withDigests(ctx, []string{f.SHA256}, func() error {
		var err error
		_, orphans, err = s.catalog.Update(ctx, id, func(r *Resource) error {
			if err := checkOwner(ctx, *r); err != nil {
				return err
			}
			r.Updated = f.Added
			for i := range r.Files {
				if r.Files[i].Name == f.Name {
					r.Files[i] = f
					return nil
				}
				// A name that differs only by case is another file to
				// the server but the same one in a zip: refuse it.
				if err := CheckFileNamesDistinct([]string{r.Files[i].Name, f.Name}); err != nil {
					return err
				}
			}
			if len(r.Files) >= MaxFiles {
				return invalid("files", "at most %d files per resource", MaxFiles)
			}
			r.Files = append(r.Files, f)
			return nil
		})
		return err
	})
	if err != nil {
		s.dropUnreferenced(ctx, []string{f.SHA256})
		return File{}, s.nameOwner(ctx, err)
	}
	s.changed()
	s.dropUnreferenced(ctx, orphans)
	return f, nil
}

// DeleteFile removes one file of a local resource.
func (s *Service) DeleteFile(ctx context.Context, id, name string) error {
	if err := ValidateID(id); err != nil {
		return fmt.Errorf("resource %q: %w", id, ErrNotFound)
	}
	_, orphans, err := s.catalog.Update(ctx, id, func(r *Resource) error {
		if !r.Local() {
			return fmt.Errorf("resource %q comes from another hub: %w", id, ErrForbidden)
		}
		if err := checkOwner(ctx, *r); err != nil {
			return err
		}
		for i := range r.Files {
			if r.Files[i].Name == name {
				r.Files = append(r.Files[:i], r.Files[i+1:]...)
				r.Updated = s.now().UTC()
				return nil
			}
		}
		return fmt.Errorf("file %q of resource %q: %w", name, id, ErrNotFound)
	})
	if err != nil {
		return s.nameOwner(ctx, err)
	}
	s.changed()
	s.dropUnreferenced(ctx, orphans)
	return nil
}

// OpenFile returns a file's record and its bytes. For a remote file that is
// not mirrored the reader is nil and File.RemoteURL says where it lives.
func (s *Service) OpenFile(ctx context.Context, id, name string) (Resource, File, BlobReader, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return r, File{}, nil, err
	}
	f, ok := r.File(name)
	if !ok {
		return r, File{}, nil, fmt.Errorf("file %q of resource %q: %w", name, id, ErrNotFound)
	}
	if f.SHA256 == "" {
		return r, f, nil, nil
	}
	br, err := s.blobs.Open(ctx, f.SHA256)
	if err != nil {
		return r, f, nil, fmt.Errorf("open file %q of %q: %w", name, id, err)
	}
	return r, f, br, nil
}

// addFile appends f to r's files under the per-resource rules: no name
// that differs from another only by case, at most MaxFiles files.
func addFile(r *Resource, f File) error {
	for i := range r.Files {
		if err := CheckFileNamesDistinct([]string{r.Files[i].Name, f.Name}); err != nil {
			return err
		}
	}
	if len(r.Files) >= MaxFiles {
		return invalid("files", "at most %d files per resource", MaxFiles)
	}
	r.Files = append(r.Files, f)
	return nil
}

// storeBlob validates an upload and streams it into the blob store.
func (s *Service) storeBlob(ctx context.Context, u Upload) (File, error) {
	return s.storeBlobIn(ctx, s.blobs, u, func(d string) { s.dropUnreferenced(ctx, []string{d}) })
}

// blobPutter is what storeBlobIn writes to: the blob store, or a batch of it.
type blobPutter interface {
	Put(ctx context.Context, r io.Reader, wantSHA256 string) (Blob, error)
}

// storeBlobIn is storeBlob into dst; drop undoes a Put whose size differs
// from the announced one.
func (s *Service) storeBlobIn(ctx context.Context, dst blobPutter, u Upload, drop func(sha256 string)) (File, error) {
	if err := ValidateFileName(u.Name); err != nil {
		return File{}, err
	}
	if u.Size > s.maxFile {
		return File{}, s.tooLarge(u.Name)
	}
	mt, err := mediaType(u.Name, u.MediaType)
	if err != nil {
		return File{}, err
	}
	want := strings.ToLower(strings.TrimSpace(u.SHA256))
	lr := &limitReader{r: u.Body, left: s.maxFile, err: s.tooLarge(u.Name)}
	b, err := s.putBlob(ctx, dst, lr, want)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return File{}, s.tooLarge(u.Name)
		}
		if errors.Is(err, ErrDigestMismatch) {
			return File{}, &ValidationError{Field: "sha256", Rule: fmt.Sprintf("file %q: the bytes received do not match the declared sha256 %s; nothing was stored", u.Name, want), Code: "digest_mismatch"}
		}
		return File{}, fmt.Errorf("store file %q: %w", u.Name, err)
	}
	if u.Size >= 0 && b.Size != u.Size {
		drop(b.SHA256)
		return File{}, invalid("size", "file %q: %d bytes announced but %d received; nothing was stored", u.Name, u.Size, b.Size)
	}
	return File{Name: u.Name, MediaType: mt, Size: b.Size, SHA256: b.SHA256, Added: s.now().UTC()}, nil
}

func (s *Service) tooLarge(name string) error {
	return fmt.Errorf("file %q is larger than this node's limit of %s (--max-file-size): %w", name, HumanSize(s.maxFile), ErrTooLarge)
}

// withDigests runs fn holding the locks of digests, after checking each blob
// is still stored (a concurrent delete may have removed an identical blob
// between our Put and now).
func (s *Service) withDigests(ctx context.Context, digests []string, fn func() error) error {
	idx := map[int]bool{}
	for _, d := range digests {
		idx[stripe(d)] = true
	}
	for i := range s.digestLocks { // fixed order: no deadlock
		if idx[i] {
			s.digestLocks[i].Lock()
			defer s.digestLocks[i].Unlock()
		}
	}
	for _, d := range digests {
		if _, err := s.blobs.Stat(ctx, d); err != nil {
			if errors.Is(err, ErrNotFound) {
				return fmt.Errorf("blob %s was removed while uploading; upload again: %w", d, ErrConflict)
			}
			return err
		}
	}
	return fn()
}

// dropUnreferenced deletes blobs that no file record points at. Failures
// only leave an orphan blob behind, which wastes space but hides nothing,
// so they are logged and not returned.
func (s *Service) dropUnreferenced(ctx context.Context, digests []string) {
	ctx = context.WithoutCancel(ctx)
	for _, d := range digests {
		func() {
			mu := &s.digestLocks[stripe(d)]
			mu.Lock()
			defer mu.Unlock()
			n, err := s.catalog.BlobRefs(ctx, d)
			if err != nil || n > 0 {
				return
			}
			if err := s.blobs.Delete(ctx, d); err != nil {
				s.log.Warn("orphan blob not deleted", "sha256", d, "err", err)
			}
		}()
	}
}

func stripe(digest string) int {
	h := 0
	for i := 0; i < len(digest) && i < 8; i++ {
		h = h*31 + int(digest[i])
	}
	if h < 0 {
		h = -h
	}
	return h % 64
}

// limitReader fails with err once more than left bytes have been read, so a
// blob store aborts the write instead of storing a truncated file.
type limitReader struct {
	r    io.Reader
	left int64
	err  error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, l.err
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, l.err
	}
	return n, err
}

// extraTypes covers extensions the system MIME table may lack.
var extraTypes = map[string]string{
	".pdf": "application/pdf", ".odt": "application/vnd.oasis.opendocument.text",
	".odp": "application/vnd.oasis.opendocument.presentation", ".ods": "application/vnd.oasis.opendocument.spreadsheet",
	".md": "text/markdown", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".mp4": "video/mp4", ".webm": "video/webm", ".zip": "application/zip", ".epub": "application/epub+zip",
	".csv": "text/csv", ".txt": "text/plain", ".svg": "image/svg+xml", ".mp3": "audio/mpeg",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// mediaType picks the declared type, else guesses from the extension.
func mediaType(name, declared string) (string, error) {
	declared = strings.TrimSpace(declared)
	if declared != "" && declared != "application/octet-stream" {
		mt, _, err := mime.ParseMediaType(declared)
		if err != nil {
			return "", invalid("media_type", "%q is not a valid media type", declared)
		}
		return mt, nil
	}
	ext := strings.ToLower(path.Ext(name))
	if t, ok := extraTypes[ext]; ok {
		return t, nil
	}
	if t := mime.TypeByExtension(ext); t != "" {
		mt, _, _ := mime.ParseMediaType(t)
		return mt, nil
	}
	return "application/octet-stream", nil
}

// HumanSize formats bytes the way French UIs do ("1,5 Mo").
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d o", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := fmt.Sprintf("%.1f", float64(n)/float64(div))
	v = strings.TrimSuffix(strings.Replace(v, ".", ",", 1), ",0")
	return v + " " + string("KMGTPE"[exp]) + "o"
}
