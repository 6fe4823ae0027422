package bundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/communs-numerique/communs/internal/storedzip"
)

// ErrCut says an answer was cut after its headers were sent: a file could
// not be read to the end. The client sees a short download it can resume;
// the caller only logs it.
var ErrCut = errors.New("bundle: download cut")

// NewReader reads the zip. Files are opened with ctx as they are reached,
// the next one while the current one is copied; at most two are open.
// Close it.
func (b *Bundle) NewReader(ctx context.Context) *storedzip.Reader {
	return b.layout.NewReader(b.opener(ctx))
}

// WriteTo writes the whole zip to w.
func (b *Bundle) WriteTo(ctx context.Context, w io.Writer) (int64, error) {
	zr := b.NewReader(ctx)
	defer zr.Close()
	n, err := zr.CopyTo(w, b.Size())
	if err == nil && n != b.Size() {
		err = fmt.Errorf("bundle: wrote %d bytes of %d", n, b.Size())
	}
	return n, err
}

// Serve answers r with the zip, as web serves a kit's zip:
// Content-Length before the first byte, a strong ETag, Range (206, and
// multipart/byteranges), If-Range, If-None-Match (304), HEAD. Before
// calling it, a caller that bounds ranges rewrites the Range header (web's
// normalizeRange). filename is the Content-Disposition name.
//
// The first file is opened before any header goes out, so a store that is
// down gives an error the caller turns into a 503. A file that fails later
// cuts the answer: Serve then returns an error wrapping ErrCut, to log only.
func (b *Bundle) Serve(w http.ResponseWriter, r *http.Request, filename string) error {
	zr := b.NewReader(r.Context())
	defer zr.Close()
	if b.first != "" && r.Method != http.MethodHead && !strings.Contains(r.Header.Get("If-None-Match"), b.etag) {
		src, err := b.opener(r.Context())(b.first)
		if err != nil {
			return err
		}
		zr.Adopt(b.first, src)
	}
	h := w.Header()
	h.Set("Content-Type", "application/zip")
	h.Set("ETag", b.etag)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	// No Last-Modified: If-Range then matches the ETag only, which names
	// the bytes exactly.
	http.ServeContent(zipWriter{w, zr}, r, "", time.Time{}, zr)
	if zr.Err != nil {
		return fmt.Errorf("%w: %w", ErrCut, zr.Err)
	}
	return nil
}

// zipWriter hands http.ServeContent's copy to the reader's CopyTo, so a
// file on disk reaches a plain connection through sendfile.
type zipWriter struct {
	http.ResponseWriter
	zr *storedzip.Reader
}

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

// opener opens files by digest for the layout's reader.
func (b *Bundle) opener(ctx context.Context) storedzip.Opener {
	return func(key string) (io.ReadSeekCloser, error) {
		f, ok := b.files[key]
		if !ok {
			return nil, fmt.Errorf("bundle: no file of digest %s", key)
		}
		rc, err := f.Open(ctx)
		if err != nil {
			return nil, fmt.Errorf("file %q: %w", f.Name, err)
		}
		if s, ok := rc.(interface{ Size() int64 }); ok && s.Size() != f.Size {
			rc.Close()
			return nil, fmt.Errorf("file %q: its source holds %d bytes, the bundle says %d", f.Name, s.Size(), f.Size)
		}
		if rs, ok := rc.(io.ReadSeekCloser); ok {
			return rs, nil
		}
		return &forwardSeeker{open: func() (io.ReadCloser, error) { return f.Open(ctx) }, rc: rc}, nil
	}
}

// forwardSeeker seeks a reader that cannot: forward by reading, backward
// by opening it again.
type forwardSeeker struct {
	open func() (io.ReadCloser, error)
	rc   io.ReadCloser
	pos  int64 // position of rc
	want int64 // position asked by Seek
}

func (s *forwardSeeker) Read(p []byte) (int, error) {
	if s.want < s.pos {
		s.rc.Close()
		rc, err := s.open()
		if err != nil {
			s.rc = io.NopCloser(strings.NewReader(""))
			return 0, err
		}
		s.rc, s.pos = rc, 0
	}
	if s.want > s.pos {
		n, err := io.CopyN(io.Discard, s.rc, s.want-s.pos)
		s.pos += n
		if err != nil {
			return 0, err
		}
	}
	n, err := s.rc.Read(p)
	s.pos += int64(n)
	s.want = s.pos
	return n, err
}

func (s *forwardSeeker) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekStart || off < 0 {
		return s.want, errors.New("bundle: only absolute seeks")
	}
	s.want = off
	return off, nil
}

func (s *forwardSeeker) Close() error { return s.rc.Close() }
