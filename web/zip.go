package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/communs-numerique/communs/internal/storedzip"
	"github.com/communs-numerique/communs/node"
)

// zipKit serves the whole kit as one zip that neither memory nor disk
// holds: its layout (storedzip) follows from the files' names, sizes,
// times and CRC-32 alone, so the answer announces Content-Length and
// http.ServeContent answers Range (one range: 206; several: 206
// multipart/byteranges, at most maxRanges), If-Range and If-None-Match
// against the strong ETag, HEAD, and 416 for a range past the end. A
// mediator on a poor connection resumes where it stopped (curl -C -).
//
// Files are stored, not deflated: kits are PDFs, videos, images and
// office files, already compressed, and stored bytes are what make every
// offset known before reading.
func (s *Server) zipKit(w http.ResponseWriter, r *http.Request, id string) error {
	res, err := s.svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	countDownload(s.svc, r, id)
	kz, err := s.planZip(r.Context(), res)
	if err != nil {
		return err
	}
	return s.serveZip(w, r, kz)
}

// kitZip is a kit's archive, laid out, with what its reader opens.
type kitZip struct {
	res    node.Resource
	layout *storedzip.Layout
	etag   string
	files  map[string]node.File // stored files by digest (the entries' keys)
	first  string               // digest of the first stored file, "" if none
}

// zipLayoutVersion is part of the ETag: bump it when the layout code
// changes the bytes of an archive for the same kit.
const zipLayoutVersion = "zip2"

// planZip lists the archive's entries: the stored files, in the kit's
// order, then LICENCE.txt and resource.json, built in memory. No two
// entries may differ only by case: unzipped on Windows or macOS one would
// overwrite the other. The domain refuses such names
// (node.ValidateFileName, node.CheckFileNamesDistinct); a resource stored
// before that rule keeps its generated LICENCE.txt and resource.json, and a
// clashing file is left out and listed in LICENCE.txt with its own download
// link. Files a remote origin hosts are listed there too.
func (s *Server) planZip(ctx context.Context, res node.Resource) (*kitZip, error) {
	kz := &kitZip{res: res, files: map[string]node.File{}}
	var entries []storedzip.Entry
	var skipped, clashes []string
	taken := map[string]bool{node.FileNameKey("LICENCE.txt"): true, node.FileNameKey("resource.json"): true}
	for _, f := range res.Files {
		if f.SHA256 == "" {
			skipped = append(skipped, f.Name+" : "+f.RemoteURL)
			continue
		}
		k := node.FileNameKey(f.Name)
		if taken[k] {
			s.log.Warn("zip: file left out, its name clashes with another entry", "resource", res.ID, "file", f.Name)
			clashes = append(clashes, f.Name+" : "+s.fileURL(res.ID, f.Name))
			continue
		}
		taken[k] = true
		crc, err := s.svc.BlobCRC32(ctx, f.SHA256)
		if err != nil {
			return nil, fmt.Errorf("zip of %q: file %q: %w", res.ID, f.Name, err)
		}
		entries = append(entries, storedzip.Entry{Name: f.Name, Size: f.Size, CRC32: crc, Modified: f.Added, Key: f.SHA256})
		kz.files[f.SHA256] = f
		if kz.first == "" {
			kz.first = f.SHA256
		}
	}
	notice := []byte(licenceText(res, s.resourceURL(res.ID), skipped, clashes))
	var meta bytes.Buffer
	enc := json.NewEncoder(&meta)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.resourceJSON(res)); err != nil {
		return nil, fmt.Errorf("zip of %q: resource.json: %w", res.ID, err)
	}
	for _, g := range []struct {
		name string
		data []byte
	}{{"LICENCE.txt", notice}, {"resource.json", meta.Bytes()}} {
		entries = append(entries, storedzip.Entry{Name: g.name, Size: int64(len(g.data)), CRC32: crc32.ChecksumIEEE(g.data), Modified: res.Updated, Data: g.data})
	}
	layout, err := storedzip.Plan(entries)
	if err != nil {
		return nil, fmt.Errorf("zip of %q: %w", res.ID, err)
	}
	kz.layout = layout
	// The ETag hashes every byte held in memory (headers with names, times
	// and CRCs, LICENCE.txt, resource.json) and each file's digest: equal
	// ETags mean equal bytes, as If-Range needs.
	h := sha256.New()
	io.WriteString(h, zipLayoutVersion)
	layout.Fingerprint(h)
	kz.etag = `"zip-` + hex.EncodeToString(h.Sum(nil)[:20]) + `"`
	return kz, nil
}

// open opens a stored file of the kit by digest, checking it holds the
// bytes the layout counted.
func (kz *kitZip) open(ctx context.Context, svc *node.Service) storedzip.Opener {
	return func(key string) (io.ReadSeekCloser, error) {
		f := kz.files[key]
		br, err := svc.OpenBlob(ctx, f)
		if err != nil {
			return nil, err
		}
		if br.Size() != f.Size {
			br.Close()
			return nil, fmt.Errorf("file %q: blob holds %d bytes, the record says %d", f.Name, br.Size(), f.Size)
		}
		return br, nil
	}
}

func (s *Server) serveZip(w http.ResponseWriter, r *http.Request, kz *kitZip) error {
	open := kz.open(r.Context(), s.svc)
	zr := kz.layout.NewReader(open)
	defer zr.Close()
	// Open the first stored file before the first byte goes out, so a store
	// that is down answers 503 rather than a cut connection (not for an
	// answer without body: HEAD, or 304 to a current If-None-Match).
	if kz.first != "" && r.Method != http.MethodHead && !strings.Contains(r.Header.Get("If-None-Match"), kz.etag) {
		br, err := open(kz.first)
		if err != nil {
			return fmt.Errorf("zip of %q: %w", kz.res.ID, err)
		}
		zr.Adopt(kz.first, br)
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("ETag", kz.etag)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": kz.res.ID + ".zip"}))
	if r.Header.Get("Range") != "" {
		normalizeRange(r.Header, kz.layout.Size())
	}
	// No Last-Modified: a date cannot tell two versions of the generated
	// entries apart within a second, so If-Range only matches the ETag
	// (a date in If-Range gets the whole archive).
	http.ServeContent(zipWriter{w, zr}, r, "", time.Time{}, zr)
	if zr.Err != nil {
		// The status line and Content-Length are sent: the connection is cut
		// short and the client sees an incomplete download it can resume.
		s.log.Warn("zip download cut", "resource", kz.res.ID, "err", zr.Err)
	}
	return nil
}

// zipWriter lets the copy of a range reach the blob's reader, part by part,
// rather than through a buffer: for a file on disk and a plain connection
// the standard library then uses sendfile, as for a single file's download.
type zipWriter struct {
	http.ResponseWriter
	zr *storedzip.Reader
}

// ReadFrom serves http.ServeContent's io.CopyN of the archive.
func (z zipWriter) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok && lr.R == io.Reader(z.zr) {
		n, err := z.zr.CopyTo(z.ResponseWriter, lr.N)
		lr.N -= n
		return n, err
	}
	return io.Copy(z.ResponseWriter, src)
}

// Unwrap gives http.ResponseController the connection's writer.
func (z zipWriter) Unwrap() http.ResponseWriter { return z.ResponseWriter }
