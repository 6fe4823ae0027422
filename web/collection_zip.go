package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/communs-numerique/communs/internal/bundle"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// collectionZip answers /collections/{id}.zip: one folder per item with
// its files, a single LICENCE.txt with every item's attribution, and a
// manifest.json of every file's size and SHA-256, signed with the hub's
// actor key (docs/BUNDLES.md; `communs bundle verify` checks it offline).
// Like a kit's zip, the layout is known before the first byte: the answer
// announces Content-Length and answers Range and If-Range against its
// strong ETag, so a mediator on a poor connection resumes it.
//
// Items whose files live only on another hub are listed with their links
// in the manifest and LICENCE.txt; a collection copy's unavailable items
// are not part of the archive.
func (s *Server) collectionZip(w http.ResponseWriter, r *http.Request, id string) error {
	ctx := r.Context()
	c, err := s.svc.GetCollection(ctx, id)
	if err != nil {
		return err
	}
	if s.bundleSigner == nil {
		return fmt.Errorf("the zip of collection %q: no signing key on this hub: %w", id, node.ErrUnavailable)
	}
	spec := bundle.Spec{Hub: bundle.Hub{Name: s.name, URL: s.publicURL}, Title: c.Title,
		URL: paths.Base(s.publicURL).Collection(c.ID), Created: c.Updated}
	for i, it := range c.Items {
		res, err := s.svc.Get(ctx, it.Resource)
		if errors.Is(err, node.ErrNotFound) {
			continue // deleted between the two reads: its collection drops it
		}
		if err != nil {
			return fmt.Errorf("zip of collection %q: item %q: %w", id, it.Resource, err)
		}
		bi := bundle.Item{Folder: fmt.Sprintf("%02d-%s", i+1, res.ID), Title: res.Title, URL: s.resourceURL(res.ID),
			AttributionLine: Attribution(res), License: res.License, Note: it.Note}
		if l, ok := node.LookupLicense(res.License); ok {
			bi.LicenseName, bi.LicenseURL = l.Label, l.URL
		}
		taken := map[string]bool{}
		for _, f := range res.Files {
			k := node.FileNameKey(f.Name)
			if f.SHA256 == "" || taken[k] {
				// A file the origin hosts, or a name clashing with another
				// once case is folded (stored before that rule): its link.
				u := f.RemoteURL
				if u == "" {
					u = s.fileURL(res.ID, f.Name)
				}
				bi.Remote = append(bi.Remote, bundle.RemoteFile{Name: f.Name, URL: u, Size: f.Size})
				continue
			}
			taken[k] = true
			crc, err := s.svc.BlobCRC32(ctx, f.SHA256)
			if err != nil {
				return fmt.Errorf("zip of collection %q: %q file %q: %w", id, res.ID, f.Name, err)
			}
			f := f
			bi.Files = append(bi.Files, bundle.File{Name: f.Name, Size: f.Size, SHA256: f.SHA256, CRC32: crc, Modified: f.Added,
				Open: func(ctx context.Context) (io.ReadCloser, error) { return s.svc.OpenBlob(ctx, f) }})
		}
		spec.Items = append(spec.Items, bi)
	}
	b, err := bundle.Plan(spec, s.bundleSigner)
	if err != nil {
		return fmt.Errorf("zip of collection %q: %w", id, err)
	}
	if r.Header.Get("Range") != "" {
		normalizeRange(r.Header, b.Size())
	}
	if err := b.Serve(w, r, c.ID+".zip"); err != nil {
		if errors.Is(err, bundle.ErrCut) {
			// Headers and part of the body are out: the client sees an
			// incomplete download it can resume.
			s.log.Warn("collection zip cut", "collection", id, "err", err)
			return nil
		}
		return fmt.Errorf("zip of collection %q: %w", id, err)
	}
	return nil
}
