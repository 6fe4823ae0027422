package node

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"
)

// RemoteFile is a file of a remote resource as its origin describes it.
type RemoteFile struct {
	Name      string
	MediaType string
	Size      int64
	SHA256    string
	URL       string
}

// Fetch opens the bytes at a URL of a peer (federation's HTTP client).
type Fetch func(ctx context.Context, url string) (io.ReadCloser, error)

// Mirror says whether SaveRemote copies a remote resource's files.
type Mirror struct {
	// Fetch, when set, copies each file into this node's blob store after
	// checking its SHA-256; nil leaves downloads pointing at the origin.
	Fetch Fetch
	// MaxSize skips (links to the origin) files larger than this; 0 means
	// the node's file limit.
	MaxSize int64
}

// RemoteID is the local id of a resource received from a peer: the
// origin's slug, shortened, with a tag of the origin's object id, so two
// hubs' "creer-une-adresse-email" never collide with each other or with a
// local resource, and the same object always gets the same id. The tag is
// 80 bits of SHA-256 in base32 (16 characters): a peer cannot search for an
// object id whose copy takes an id meant for another hub's resource (32
// bits took minutes on a laptop; 80 bits would take far longer than any
// attacker has).
func RemoteID(origin, slug string) string {
	sum := sha256.Sum256([]byte(origin))
	return remoteID(strings.ToLower(base32.StdEncoding.EncodeToString(sum[:10])), slug)
}

// LegacyRemoteID is the id copies got before 80-bit tags (8 hex digits, 32
// bits). Copies stored under it keep their id: SaveRemoteMany and the
// federation's Delete look them up by it, and only when the stored copy
// has the very same origin.
func LegacyRemoteID(origin, slug string) string {
	sum := sha256.Sum256([]byte(origin))
	return remoteID(hex.EncodeToString(sum[:4]), slug)
}

func remoteID(tag, slug string) string {
	slug = Slugify(slug)
	if slug == "" {
		slug = "ressource"
	}
	if max := MaxIDLen - len(tag) - 1; len(slug) > max {
		slug = strings.TrimRight(slug[:max], "-")
	}
	return slug + "-" + tag
}

// RemoteItem is one resource received from a peer, with its files.
type RemoteItem struct {
	Resource Resource
	Files    []RemoteFile
	// LegacyID, when set, is an id the copy may already be stored under
	// (LegacyRemoteID); it is used only if the copy there has the same
	// origin, so an id squatted under the old scheme is simply not reused.
	LegacyID string
}

// SaveRemote stores or replaces a resource received from a peer: the same
// validation as a local one, the licence checked against this node's policy
// (a refused licence is an ErrInvalid and nothing is stored), and files
// either mirrored (each digest verified before the resource becomes
// visible) or linked to the origin. It returns the stored resource.
func (s *Service) SaveRemote(ctx context.Context, r Resource, files []RemoteFile, m Mirror) (Resource, error) {
	saved, errs, err := s.SaveRemoteMany(ctx, []RemoteItem{{Resource: r, Files: files}}, m)
	if err != nil {
		return Resource{}, err
	}
	if errs[0] != nil {
		return Resource{}, errs[0]
	}
	return saved[0], nil
}

// SaveRemoteMany is SaveRemote for a batch (a page of a backfill), written
// in one catalog transaction. Each item succeeds or fails on its own: errs
// holds an item's refusal at its index; err is a failure of the whole batch.
func (s *Service) SaveRemoteMany(ctx context.Context, items []RemoteItem, m Mirror) ([]Resource, []error, error) {
	out := make([]Resource, len(items))
	errs := make([]error, len(items))
	var stored, held []string
	var batch []Resource
	var at []int
	existed := map[string]bool{}
	for i, it := range items {
		r, digests, reused, was, err := s.prepareRemoteState(ctx, it.Resource, it.Files, it.LegacyID, m)
		stored = append(stored, digests...)
		if err != nil {
			errs[i] = err
			continue
		}
		held = append(held, reused...)
		existed[r.ID] = was
		batch = append(batch, r)
		at = append(at, i)
	}
	if len(batch) == 0 {
		s.dropUnreferenced(ctx, stored)
		return out, errs, nil
	}
	var orphans []string
	// Reused blobs are held and checked too: a Delete or an Update applied
	// meanwhile may have dropped them.
	err := s.withDigests(ctx, append(slices.Clone(stored), held...), func() error {
		var itemErrs []error
		var err error
		orphans, itemErrs, err = s.catalog.UpsertMany(ctx, batch, func(old, r *Resource) error {
			if old == nil {
				if existed[r.ID] {
					return fmt.Errorf("resource %q was deleted while it was being saved: %w", r.ID, ErrConflict)
				}
				return nil
			}
			if old.Origin != r.Origin {
				return fmt.Errorf("resource %q already exists with another origin: %w", r.ID, ErrConflict)
			}
			if old.Updated.After(r.Updated) {
				// A backfill page or a delayed delivery older than what
				// arrived meanwhile: keep the newer copy.
				return fmt.Errorf("resource %q: this copy (%s) is older than the stored one (%s): %w",
					r.ID, r.Updated.Format(time.RFC3339), old.Updated.Format(time.RFC3339), ErrConflict)
			}
			r.Created = old.Created
			return nil
		})
		for j, e := range itemErrs {
			errs[at[j]] = e
		}
		return err
	})
	if err != nil {
		s.dropUnreferenced(ctx, stored)
		return out, errs, err
	}
	for j, r := range batch {
		out[at[j]] = r
	}
	s.changed()
	s.dropUnreferenced(ctx, append(orphans, stored...))
	return out, errs, nil
}

// prepareRemoteState validates a remote resource and mirrors its files. It
// returns the digests it stored (to drop if the resource is not saved), the
// already-mirrored digests it reuses, and whether the resource existed when
// it looked: the save must hold those blobs and find the resource in the
// same state.
func (s *Service) prepareRemoteState(ctx context.Context, r Resource, files []RemoteFile, legacyID string, m Mirror) (Resource, []string, []string, bool, error) {
	if r.Origin == "" {
		return Resource{}, nil, nil, false, invalid("origin", "a remote resource needs the origin's object id")
	}
	r.Normalize()
	if r.Language == "" {
		r.Language = "fr"
	}
	r.Files = nil
	// A copy belongs to none of this hub's organisations: the origin's
	// organisation is kept as text (its name and page), checked here.
	r.Organisation, r.CreatedBy = "", ""
	r.OrganisationName = strings.TrimSpace(r.OrganisationName)
	r.OrganisationURL = strings.TrimSpace(r.OrganisationURL)
	if err := r.Validate(); err != nil {
		return Resource{}, nil, nil, false, fmt.Errorf("remote resource %s: %w", r.Origin, err)
	}
	if ou, err := url.Parse(r.Origin); err != nil || ou.Host == "" {
		return Resource{}, nil, nil, false, invalid("origin", "must be an absolute URL (got %q)", truncate(r.Origin, 80))
	} else if err := ValidateRemoteOrganisation(r.OrganisationName, r.OrganisationURL, ou.Host); err != nil {
		return Resource{}, nil, nil, false, fmt.Errorf("remote resource %s: %w", r.Origin, err)
	}
	if err := s.policy.Check(r.License); err != nil {
		return Resource{}, nil, nil, false, fmt.Errorf("remote resource %s: %w", r.Origin, err)
	}
	if len(files) > MaxFiles {
		return Resource{}, nil, nil, false, invalid("files", "at most %d files per resource", MaxFiles)
	}
	old, err := s.catalog.Get(ctx, r.ID)
	if errors.Is(err, ErrNotFound) && legacyID != "" && legacyID != r.ID {
		if lo, lerr := s.catalog.Get(ctx, legacyID); lerr == nil && lo.Origin == r.Origin {
			r.ID, old, err = legacyID, lo, nil
		}
	}
	exists := err == nil
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return Resource{}, nil, nil, false, err
	case exists && old.Origin != r.Origin:
		return Resource{}, nil, nil, false, fmt.Errorf("resource %q already exists with another origin: %w", r.ID, ErrConflict)
	}
	var reused []string
	limit := s.maxFile
	if m.MaxSize > 0 && m.MaxSize < limit {
		limit = m.MaxSize
	}
	now := s.now().UTC()
	var stored []string
	for _, rf := range files {
		if err := ValidateFileName(rf.Name); err != nil {
			return Resource{}, stored, nil, exists, err
		}
		mt, err := mediaType(rf.Name, rf.MediaType)
		if err != nil {
			mt = "application/octet-stream"
		}
		want := strings.ToLower(rf.SHA256)
		f := File{Name: rf.Name, MediaType: mt, Size: rf.Size, RemoteURL: rf.URL, RemoteSHA256: want, Added: now}
		if prev, ok := old.File(rf.Name); exists && ok && prev.SHA256 != "" && prev.SHA256 == want {
			f = prev // already mirrored, same bytes
			reused = append(reused, prev.SHA256)
		} else if m.Fetch != nil && want != "" && rf.Size <= limit {
			mf, err := s.mirrorFile(ctx, m.Fetch, rf, mt, want, limit)
			var ve *ValidationError
			switch {
			case errors.As(err, &ve):
				// The origin served other bytes than it announced.
				return Resource{}, stored, nil, exists, err
			case err != nil:
				// Origin unreachable or slow: keep the resource, linked
				// to the origin; the next update mirrors it.
				s.log.Warn("file not mirrored; downloads go to its origin", "url", rf.URL, "err", err)
			default:
				f = mf
				stored = append(stored, f.SHA256)
			}
		}
		r.Files = append(r.Files, f)
	}
	// Updated is the origin's own date when it sent one, so a late older
	// copy can be told from a newer one; Created is when it arrived here.
	r.Created = now
	if r.Updated.IsZero() {
		r.Updated = now
	}
	return r, stored, reused, exists, nil
}

// mirrorFile copies a remote file; the blob store refuses bytes whose
// digest differs from the announced one, so a tampered or truncated file
// is never served.
func (s *Service) mirrorFile(ctx context.Context, fetch Fetch, rf RemoteFile, mt, want string, limit int64) (File, error) {
	body, err := fetch(ctx, rf.URL)
	if err != nil {
		return File{}, fmt.Errorf("mirror %s: %w", rf.URL, err)
	}
	defer body.Close()
	lr := &limitReader{r: body, left: limit, err: s.tooLarge(rf.Name)}
	b, err := s.putBlob(ctx, s.blobs, lr, want)
	if err != nil {
		if errors.Is(err, ErrDigestMismatch) {
			return File{}, &ValidationError{Field: "digest", Code: "digest_mismatch",
				Rule: fmt.Sprintf("file %s: the bytes served by the origin do not match its announced sha256 %s; not mirrored", rf.URL, want)}
		}
		return File{}, fmt.Errorf("mirror %s: %w", rf.URL, err)
	}
	return File{Name: rf.Name, MediaType: mt, Size: b.Size, SHA256: b.SHA256, RemoteURL: rf.URL, Added: s.now().UTC()}, nil
}

// DeleteRemote removes the remote resource with that origin object id, and
// the mirrored blobs only it used. An unknown origin is not an error: a
// Delete may arrive for something this node never received.
func (s *Service) DeleteRemote(ctx context.Context, id, origin string) error {
	r, err := s.catalog.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.Origin != origin {
		return fmt.Errorf("resource %q does not come from %s: %w", id, origin, ErrForbidden)
	}
	_, orphans, err := s.catalog.Delete(ctx, id)
	if err != nil {
		return err
	}
	s.changed()
	s.dropUnreferenced(ctx, orphans)
	return nil
}

// DeleteRemoteFrom removes every remote resource whose origin is on host
// (a blocked hub), and returns how many went. The copies of that hub's
// collections go too (not counted).
func (s *Service) DeleteRemoteFrom(ctx context.Context, originPrefix string) (int, error) {
	if err := s.deleteRemoteCollectionsFrom(ctx, originPrefix); err != nil {
		return 0, err
	}
	n, cursor := 0, ""
	for {
		rs, next, err := s.catalog.List(ctx, ListOptions{After: cursor, Limit: 200, Origin: "remote"})
		if err != nil {
			return n, err
		}
		for _, r := range rs {
			if strings.HasPrefix(r.Origin, originPrefix) {
				if err := s.DeleteRemote(ctx, r.ID, r.Origin); err != nil {
					return n, err
				}
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}
