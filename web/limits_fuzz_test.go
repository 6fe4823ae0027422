package web

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzPartsReader: any multipart body either is refused or yields text
// fields within the caps, the CSRF token first.
func FuzzPartsReader(f *testing.F) {
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nok\r\n--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nKit\r\n--B--\r\n"))
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nKit\r\n--B--\r\n"))
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nok\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF\r\n--B--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/editeur/nouveau", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=B")
		pr, err := newPartsReader(r, func(tok string) error {
			if tok != "ok" {
				return errBadRequest
			}
			return nil
		})
		if err != nil {
			return
		}
		if pr.values.Get("csrf") != "ok" {
			t.Fatalf("accepted without the token: %v", pr.values)
		}
		n, size := 0, 0
		for _, vs := range pr.values {
			for _, v := range vs {
				n++
				size += len(v)
			}
		}
		if n > maxFormParts || size > maxFormText {
			t.Fatalf("%d fields, %d bytes accepted", n, size)
		}
	})
}

// FuzzDecodeSession: a cookie value never panics the decoder, and only a
// value this server signed decodes.
func FuzzDecodeSession(f *testing.F) {
	s := &Server{sessionKey: bytes.Repeat([]byte{7}, sessionKeyLen)}
	f.Add(s.encodeSession(uiSession{SID: "sid", User: "editor", Role: "editor", Exp: time.Now().Add(time.Hour), Epoch: 3}))
	f.Add("")
	f.Add("a.b")
	f.Fuzz(func(t *testing.T, v string) {
		sess, ok := s.decodeSession(v)
		if ok && s.encodeSession(sess) != v {
			// Re-encoding gives back the same bytes only for values the
			// server produced; anything else decoding means a forgery.
			t.Fatalf("decoded a value the server did not sign: %q -> %+v", v, sess)
		}
	})
	_ = http.StatusOK
}
