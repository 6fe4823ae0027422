// Package blob holds the content-addressed byte stores behind node.Blobs: a
// local directory (the default) and any S3-compatible object storage.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/communs-numerique/communs/node"
)

// checkDigest refuses anything but 64 lowercase hex characters. Digests reach
// the stores from URLs and remote peers, and they become file paths and object
// keys: "../../etc/passwd" must never get that far.
func checkDigest(op, s string) error {
	if !validDigest(s) {
		return fmt.Errorf("%s: invalid digest %q: want 64 lowercase hex characters: %w", op, s, node.ErrInvalid)
	}
	return nil
}

func validDigest(s string) bool {
	if len(s) != sha256.Size*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// hashingReader hashes and counts what passes through it and remembers the
// source's own error, so a failing client upload is not blamed on the store.
type hashingReader struct {
	ctx  context.Context
	r    io.Reader
	h    hash.Hash
	n    int64
	err  error
	want string // when set, EOF turns into a mismatch error if the digest differs
}

func newHashingReader(ctx context.Context, r io.Reader, want string) *hashingReader {
	return &hashingReader{ctx: ctx, r: r, h: sha256.New(), want: want}
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	// A cancelled request must stop a multi-gigabyte copy now, not at EOF.
	if err := hr.ctx.Err(); err != nil {
		hr.err = err
		return 0, err
	}
	n, err := hr.r.Read(p)
	if n > 0 {
		hr.h.Write(p[:n])
		hr.n += int64(n)
	}
	if err != nil && err != io.EOF {
		hr.err = err
	}
	if err == io.EOF && hr.want != "" {
		if got := hr.sum(); got != hr.want {
			err = mismatch(hr.want, got)
		}
	}
	return n, err
}

func (hr *hashingReader) sum() string { return hex.EncodeToString(hr.h.Sum(nil)) }

func mismatch(want, got string) error {
	return fmt.Errorf("%w: expected %s, got %s", node.ErrDigestMismatch, want, got)
}
