package web

import (
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/communs-numerique/communs/node"
)

// inlineTypes may be shown in the browser; anything else (HTML, SVG, XML,
// scripts, unknown types) is forced to download so an uploaded file can
// never run as a page of this origin.
var inlineTypes = map[string]bool{
	"application/pdf": true, "image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true,
	"video/mp4": true, "video/webm": true, "audio/mpeg": true, "audio/ogg": true, "text/plain": true,
}

// osFileReader is a blob reader backed by a local file (storage/blob's disk
// store), which it exposes so that the download can use sendfile(2). The
// file stays the reader's: closing the reader closes it.
type osFileReader interface{ OSFile() *os.File }

// download streams one file. http.ServeContent gives Range/206,
// If-None-Match/304 and HEAD from the ETag (the sha256) and a seekable blob.
func (s *Server) download(w http.ResponseWriter, r *http.Request) error {
	id, name := r.PathValue("id"), r.PathValue("name")
	_, f, br, err := s.svc.OpenFile(r.Context(), id, name)
	if err != nil {
		return err
	}
	countDownload(s.svc, r, id)
	if br == nil {
		// A remote file this node does not mirror: its origin serves it.
		http.Redirect(w, r, f.RemoteURL, http.StatusFound)
		return nil
	}
	defer br.Close()
	h := w.Header()
	h.Set("ETag", `"`+f.SHA256+`"`)
	h.Set("Content-Type", f.MediaType)
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	disp := "attachment"
	if inlineTypes[f.MediaType] {
		disp = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": f.Name}))
	if r.Header.Get("Range") != "" {
		size, err := br.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = br.Seek(0, io.SeekStart)
		}
		if err != nil {
			return fmt.Errorf("open file %q of %q: %w", name, id, err)
		}
		normalizeRange(r.Header, size)
	}
	if of, ok := br.(osFileReader); ok {
		// net/http sends an *os.File with sendfile(2), from the page cache
		// to the socket without a copy through the process.
		http.ServeContent(w, r, "", f.Added, of.OSFile())
		return nil
	}
	http.ServeContent(bigWrites{w}, r, "", f.Added, br)
	return nil
}

// downloadBuf is what one download from object storage copies at a time:
// net/http's 32 KiB means a write to the socket (and, below, a read from
// the storage's connection) every 32 KiB.
const downloadBuf = 256 << 10

var downloadBufs = sync.Pool{New: func() any { b := make([]byte, downloadBuf); return &b }}

// bigWrites gives http.ServeContent's copy a larger buffer than net/http's.
type bigWrites struct{ http.ResponseWriter }

func (w bigWrites) ReadFrom(src io.Reader) (int64, error) {
	bp := downloadBufs.Get().(*[]byte)
	defer downloadBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{w.ResponseWriter}, src, *bp)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w bigWrites) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// maxRanges bounds a multi-range request: each range is a seek (a new
// request on S3), and RFC 9110 lets a server ignore a Range it finds
// abusive, answering the whole file instead.
const maxRanges = 16

// normalizeRange rewrites the Range header so that http.ServeContent (which
// does If-Range, preconditions, 206 and multipart/byteranges) answers as RFC
// 9110 says where it does not on its own: a malformed Range or an unknown
// unit is ignored (200, not 416); a zero suffix (bytes=-0) is unsatisfiable
// rather than a 206 with an inverted Content-Range; ranges that cannot be
// satisfied are dropped, and when none is left the answer is 416 with
// Content-Range: bytes */SIZE; positions past the end, even beyond int64,
// are clamped to the last byte.
func normalizeRange(h http.Header, size int64) {
	specs, ok := parseRangeHeader(h.Get("Range"))
	if !ok || len(specs) > maxRanges {
		h.Del("Range")
		return
	}
	var out []string
	for _, sp := range specs {
		switch {
		case sp.suffix:
			if sp.last == 0 || size == 0 {
				continue // a zero-length suffix selects nothing
			}
			out = append(out, fmt.Sprintf("-%d", min(sp.last, size)))
		case sp.first >= size:
			continue // starts past the end
		case sp.last < 0 || sp.last >= size:
			out = append(out, fmt.Sprintf("%d-%d", sp.first, size-1))
		default:
			out = append(out, fmt.Sprintf("%d-%d", sp.first, sp.last))
		}
	}
	if len(out) == 0 {
		// ServeContent answers "bytes=SIZE-" with 416 and bytes */SIZE (or,
		// for an empty file, with the whole, empty, file).
		h.Set("Range", fmt.Sprintf("bytes=%d-", size))
		return
	}
	h.Set("Range", "bytes="+strings.Join(out, ","))
}

// byteRange is one range-spec: first-last, first- (last < 0) or -suffix
// (suffix set, last holds the length). Positions beyond int64 are kept as
// math.MaxInt64: they only ever mean "to the end".
type byteRange struct {
	first, last int64
	suffix      bool
}

// parseRangeHeader parses a Range value with RFC 9110's grammar
// (ranges-specifier = range-unit "=" range-set); ok is false when the value
// is malformed or names another unit than bytes.
func parseRangeHeader(v string) ([]byteRange, bool) {
	unit, set, found := strings.Cut(v, "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, false
	}
	var out []byteRange
	for spec := range strings.SplitSeq(set, ",") {
		spec = strings.Trim(spec, " \t")
		if spec == "" {
			continue // empty list elements are allowed
		}
		a, b, found := strings.Cut(spec, "-")
		if !found {
			return nil, false
		}
		var r byteRange
		switch {
		case a == "":
			n, ok := rangeNumber(b)
			if !ok {
				return nil, false
			}
			r = byteRange{suffix: true, last: n}
		default:
			first, ok := rangeNumber(a)
			if !ok {
				return nil, false
			}
			r = byteRange{first: first, last: -1}
			if b != "" {
				last, ok := rangeNumber(b)
				if !ok || last < first {
					return nil, false
				}
				r.last = last
			}
		}
		out = append(out, r)
	}
	return out, len(out) > 0
}

// rangeNumber reads 1*DIGIT; a number too large for int64 saturates.
func rangeNumber(s string) (int64, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64, true // all digits: only the range is out
	}
	return n, true
}

// fileAnswer adapts a download handler: its error is answered by
// downloadError.
func (s *Server) fileAnswer(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.downloadError(w, r, err)
		}
	}
}

// downloadError answers a person following a download link with the HTML
// error page in their language, and a script with the JSON error.
func (s *Server) downloadError(w http.ResponseWriter, r *http.Request, err error) {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		s.uiError(w, r, err)
		return
	}
	s.writeError(w, r, err)
}

// Attribution is the ready-to-copy credit line a reuser must give.
func Attribution(r node.Resource) string {
	short := r.License
	if l, ok := node.LookupLicense(r.License); ok {
		short = l.Short
	}
	by := strings.Join(r.Authors, ", ")
	if by == "" {
		by = r.Hub
	}
	return fmt.Sprintf("« %s » par %s, %s, sous licence %s", r.Title, by, r.Hub, short)
}

func licenceText(r node.Resource, url string, skipped, clashes []string) string {
	var b strings.Builder
	l, _ := node.LookupLicense(r.License)
	fmt.Fprintf(&b, "%s\n\n", r.Title)
	fmt.Fprintf(&b, "Attribution / Credit:\n  %s\n\n", Attribution(r))
	fmt.Fprintf(&b, "Licence : %s (%s)\n  %s\n\n", l.Label, r.License, l.URL)
	fmt.Fprintf(&b, "Auteurs / Authors : %s\nHub : %s\nPublié / Published : %s\nSource : %s\n", strings.Join(r.Authors, ", "), r.Hub, r.Published, url)
	b.WriteString(chainText(r.BasedOn)) // adapt.go
	if len(skipped) > 0 {
		b.WriteString("\nFichiers hébergés par le hub d'origine / Files hosted by the origin hub:\n")
		for _, s := range skipped {
			b.WriteString("  " + s + "\n")
		}
	}
	if len(clashes) > 0 {
		b.WriteString("\nFichiers à télécharger un par un, leur nom se confond avec un autre dans un zip / Files to download one by one, their name clashes with another in a zip:\n")
		for _, c := range clashes {
			b.WriteString("  " + c + "\n")
		}
	}
	return b.String()
}

// countDownload counts a GET of a file or a kit zip for the organisation
// pages' monthly figures: in memory, flushed in batches, so the download
// path never waits for a disk write. A range request counts only when it
// starts at the first byte, so a resumed or seeking download counts once.
func countDownload(svc *node.Service, r *http.Request, id string) {
	if r.Method != http.MethodGet {
		return
	}
	if rg := r.Header.Get("Range"); rg != "" && !strings.HasPrefix(strings.TrimSpace(rg), "bytes=0-") {
		return
	}
	svc.CountDownload(id)
}
