package web_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/web"
)

// TestRangesFollowRFC9110: downloads answer Range as RFC 9110 says, on disk
// and on S3 (where the range is streamed by ServeContent's seeks). Before,
// bytes=-0 was a 206 with Content-Range bytes SIZE-(SIZE-1)/SIZE and a
// malformed Range a 416.
func TestRangesFollowRFC9110(t *testing.T) {
	t.Run("disk", func(t *testing.T) { checkRanges(t, nil) })
	t.Run("s3", func(t *testing.T) { checkRanges(t, minioBlobs(t)) })
}

func checkRanges(t *testing.T, blobs node.Blobs) {
	n := startLogged(t, blobs)
	id := publishLogged(t, n, kitJSON)
	const size = 1 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7 % 251)
	}
	putFile(t, n, id, "guide.pdf", data)
	url := n.URL + "/r/" + id + "/files/guide.pdf"
	etag := `"` + sha(data) + `"`
	full := fmt.Sprintf("bytes */%d", size)
	for _, c := range []struct {
		name, rng, ifRange string
		status             int
		contentRange       string
		body               []byte   // nil: not checked (416)
		parts              [][]byte // multipart/byteranges parts
	}{
		{"zero suffix is unsatisfiable", "bytes=-0", "", 416, full, nil, nil},
		{"start at the size", fmt.Sprintf("bytes=%d-", size), "", 416, full, nil, nil},
		{"start past the size", "bytes=2000000-3000000", "", 416, full, nil, nil},
		{"end past the size is clamped", "bytes=5-1000000000", "", 206, fmt.Sprintf("bytes 5-%d/%d", size-1, size), data[5:], nil},
		{"end beyond int64 is clamped", "bytes=10-99999999999999999999999", "", 206, fmt.Sprintf("bytes 10-%d/%d", size-1, size), data[10:], nil},
		{"suffix", "bytes=-100", "", 206, fmt.Sprintf("bytes %d-%d/%d", size-100, size-1, size), data[size-100:], nil},
		{"suffix longer than the file", "bytes=-2000000", "", 206, fmt.Sprintf("bytes 0-%d/%d", size-1, size), data, nil},
		{"last byte", fmt.Sprintf("bytes=%d-%d", size-1, size-1), "", 206, fmt.Sprintf("bytes %d-%d/%d", size-1, size-1, size), data[size-1:], nil},
		{"unit is case-insensitive", "Bytes=0-9", "", 206, fmt.Sprintf("bytes 0-9/%d", size), data[:10], nil},
		{"unsatisfiable part dropped", "bytes=-0, 0-9", "", 206, fmt.Sprintf("bytes 0-9/%d", size), data[:10], nil},
		{"multi-range", "bytes=0-9,-5", "", 206, "", nil, [][]byte{data[:10], data[size-5:]}},
		{"malformed is ignored", "bytes=abc", "", 200, "", data, nil},
		{"inverted is ignored", "bytes=9-5", "", 200, "", data, nil},
		{"negative is ignored", "bytes=-5-9", "", 200, "", data, nil},
		{"unknown unit is ignored", "items=0-9", "", 200, "", data, nil},
		{"no ranges is ignored", "bytes=", "", 200, "", data, nil},
		{"too many ranges are ignored", "bytes=0-0,2-2,4-4,6-6,8-8,10-10,12-12,14-14,16-16,18-18,20-20,22-22,24-24,26-26,28-28,30-30,32-32", "", 200, "", data, nil},
		{"If-Range matches", "bytes=0-9", etag, 206, fmt.Sprintf("bytes 0-9/%d", size), data[:10], nil},
		{"If-Range differs: whole file", "bytes=0-9", `"other"`, 200, "", data, nil},
		{"If-Range differs, unsatisfiable: whole file", "bytes=-0", `"other"`, 200, "", data, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{"Range": c.rng}
			if c.ifRange != "" {
				hdr["If-Range"] = c.ifRange
			}
			resp, b := raw(t, "GET", url, hdr, nil)
			if resp.StatusCode != c.status {
				t.Fatalf("Range %q: status %d, want %d (Content-Range %q)", c.rng, resp.StatusCode, c.status, resp.Header.Get("Content-Range"))
			}
			if got := resp.Header.Get("Content-Range"); got != c.contentRange {
				t.Fatalf("Range %q: Content-Range %q, want %q", c.rng, got, c.contentRange)
			}
			if c.body != nil && !bytes.Equal(b, c.body) {
				t.Fatalf("Range %q: %d bytes, not the %d expected", c.rng, len(b), len(c.body))
			}
			if c.parts != nil {
				mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
				if mt != "multipart/byteranges" {
					t.Fatalf("Range %q: Content-Type %q", c.rng, resp.Header.Get("Content-Type"))
				}
				mr := multipart.NewReader(bytes.NewReader(b), params["boundary"])
				for i, want := range c.parts {
					p, err := mr.NextPart()
					if err != nil {
						t.Fatalf("part %d: %v", i, err)
					}
					got, _ := io.ReadAll(p)
					if !bytes.Equal(got, want) {
						t.Fatalf("part %d (%s): %d bytes, want %d", i, p.Header.Get("Content-Range"), len(got), len(want))
					}
				}
				if _, err := mr.NextPart(); err != io.EOF {
					t.Fatalf("more parts than asked: %v", err)
				}
			}
		})
	}
	if lines := n.Log.errorLines(); len(lines) > 0 {
		t.Fatalf("range requests logged ERROR:\n%s", lines)
	}
}

// FuzzParseRangeHeader: the Range parser never panics, and what it accepts
// rewrites to a header ServeContent never answers with an inverted range.
func FuzzParseRangeHeader(f *testing.F) {
	for _, s := range []string{"bytes=-0", "bytes=0-", "bytes=5-1", "bytes=1-2,3-4", "bytes=-99999999999999999999", "items=1-2", "bytes= , ,0-1", "bytes=-"} {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			size = -size
		}
		h := http.Header{}
		h.Set("Range", v)
		web.NormalizeRange(h, size)
		out := h.Get("Range")
		if out == "" {
			return
		}
		for _, r := range web.ParsedRanges(out) {
			if r[0] < 0 || (r[1] >= 0 && r[1] < r[0]) {
				t.Fatalf("%q (size %d) rewritten to %q", v, size, out)
			}
		}
	})
}
