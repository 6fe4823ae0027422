package web_test

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/communs-numerique/communs/web"
)

// fileSink is a ResponseWriter that, like net/http's, has ReadFrom, and
// records whether what it was handed is a local file (which net/http sends
// with sendfile(2), without copying through the process).
type fileSink struct {
	*httptest.ResponseRecorder
	fromFile bool
}

func (s *fileSink) ReadFrom(src io.Reader) (int64, error) {
	r := src
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, s.fromFile = r.(*os.File)
	return io.Copy(s.ResponseRecorder, src)
}

// TestDiskDownloadIsSentFromTheFile: a download from the disk store hands
// net/http the blob's *os.File, whole or ranged, so the kernel sends it
// (before, the access-log writer hid ReadFrom and the blob's wrapper hid the
// file: every byte went through a 32 KiB buffer, 0.75-0.88x http.ServeFile).
func TestDiskDownloadIsSentFromTheFile(t *testing.T) {
	n := startLogged(t, nil)
	id := publishLogged(t, n, kitJSON)
	data := bytes.Repeat([]byte("0123456789abcdef"), 64<<10)
	putFile(t, n, id, "guide.pdf", data)
	h := web.New(n.Service, web.Options{PublicURL: n.URL}).Handler()
	for _, c := range []struct {
		name, rng string
		status    int
		body      []byte
	}{
		{"whole file", "", 200, data},
		{"one range", "bytes=100-199999", 206, data[100:200000]},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/r/"+id+"/files/guide.pdf", nil)
			if c.rng != "" {
				req.Header.Set("Range", c.rng)
			}
			w := &fileSink{ResponseRecorder: httptest.NewRecorder()}
			h.ServeHTTP(w, req)
			if w.Code != c.status || !bytes.Equal(w.Body.Bytes(), c.body) {
				t.Fatalf("status %d, %d bytes; want %d, %d bytes", w.Code, w.Body.Len(), c.status, len(c.body))
			}
			if !w.fromFile {
				t.Fatal("the download was not handed to net/http as an *os.File: no sendfile")
			}
		})
	}
}
