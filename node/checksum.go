package node

import (
	"context"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"
)

// Checksums remembers the CRC-32 (IEEE) of stored blobs, by SHA-256. A zip
// names each entry's CRC-32 in headers that come before and after its
// bytes; knowing it ahead lets a kit's zip be laid out, sized and served
// from any offset without reading the files before that offset. A CRC-32
// depends only on the bytes, so a recorded value never goes stale: it
// needs no invalidation when files or resources change.
//
// The catalog implements it when it can (storage/catalog); otherwise the
// Service keeps the values in memory for its lifetime.
type Checksums interface {
	// BlobCRC32 returns the recorded CRC-32 of a blob; ok is false when
	// none is recorded.
	BlobCRC32(ctx context.Context, sha256 string) (crc uint32, ok bool, err error)
	SetBlobCRC32(ctx context.Context, sha256 string, crc uint32) error
}

// crcCache finds blobs' CRC-32: recorded at upload, or computed once from
// the blob (files stored before CRCs were recorded, or whose recording
// failed) and recorded then. Concurrent requests for the same blob share
// one computation.
type crcCache struct {
	store Checksums
	mu    sync.Mutex
	busy  map[string]*crcCall
}

type crcCall struct {
	done chan struct{}
	crc  uint32
	err  error
}

// memChecksums is the fallback when the catalog records no checksums.
type memChecksums struct {
	mu sync.Mutex
	m  map[string]uint32
}

func (m *memChecksums) BlobCRC32(_ context.Context, d string) (uint32, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.m[d]
	return c, ok, nil
}

func (m *memChecksums) SetBlobCRC32(_ context.Context, d string, c uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[d] = c
	return nil
}

func newCRCCache(c Catalog) *crcCache {
	store, ok := c.(Checksums)
	if !ok {
		store = &memChecksums{m: map[string]uint32{}}
	}
	return &crcCache{store: store, busy: map[string]*crcCall{}}
}

// BlobCRC32 returns the CRC-32 of the stored blob with that digest,
// reading the blob once if no value is recorded yet.
func (s *Service) BlobCRC32(ctx context.Context, sha256 string) (uint32, error) {
	c := s.crc
	if crc, ok, err := c.store.BlobCRC32(ctx, sha256); err != nil || ok {
		if err != nil {
			return 0, fmt.Errorf("crc-32 of blob %s: %w", sha256, err)
		}
		return crc, nil
	}
	c.mu.Lock()
	call := c.busy[sha256]
	if call == nil {
		call = &crcCall{done: make(chan struct{})}
		c.busy[sha256] = call
		c.mu.Unlock()
		// The computation outlives a caller that goes away: others may
		// wait for it, and its result is recorded for the next ones.
		call.crc, call.err = s.computeCRC(context.WithoutCancel(ctx), sha256)
		c.mu.Lock()
		delete(c.busy, sha256)
		c.mu.Unlock()
		close(call.done)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-call.done:
		return call.crc, call.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (s *Service) computeCRC(ctx context.Context, sha256 string) (uint32, error) {
	br, err := s.blobs.Open(ctx, sha256)
	if err != nil {
		return 0, fmt.Errorf("crc-32 of blob %s: %w", sha256, err)
	}
	defer br.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, br); err != nil {
		return 0, fmt.Errorf("crc-32 of blob %s: %w", sha256, err)
	}
	s.recordCRC(ctx, sha256, h.Sum32())
	return h.Sum32(), nil
}

// recordCRC keeps a blob's CRC-32; a failure only costs a later
// recomputation, so it is logged, not returned.
func (s *Service) recordCRC(ctx context.Context, sha256 string, crc uint32) {
	if err := s.crc.store.SetBlobCRC32(context.WithoutCancel(ctx), sha256, crc); err != nil {
		s.log.Warn("record crc-32", "blob", sha256, "err", err)
	}
}

// crcReader computes the CRC-32 of what passes through it, in the same pass
// as the blob store's SHA-256.
type crcReader struct {
	r io.Reader
	h hash.Hash32
	n int64
}

func newCRCReader(r io.Reader) *crcReader { return &crcReader{r: r, h: crc32.NewIEEE()} }

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// putBlob stores r like Blobs.Put and records its CRC-32 when the store read
// every byte through it (a store is free to stop early on bytes it has).
func (s *Service) putBlob(ctx context.Context, r io.Reader, want string) (Blob, error) {
	cr := newCRCReader(r)
	b, err := s.blobs.Put(ctx, cr, want)
	if err == nil && cr.n == b.Size {
		s.recordCRC(ctx, b.SHA256, cr.h.Sum32())
	}
	return b, err
}

// OpenBlob opens a stored file's bytes by its digest, as recorded in f, so
// that what is read is what f describes even if the resource changes
// meanwhile. ErrNotFound for a file that is not stored here.
func (s *Service) OpenBlob(ctx context.Context, f File) (BlobReader, error) {
	if f.SHA256 == "" {
		return nil, fmt.Errorf("file %q is not stored on this node: %w", f.Name, ErrNotFound)
	}
	br, err := s.blobs.Open(ctx, f.SHA256)
	if err != nil {
		return nil, fmt.Errorf("open file %q: %w", f.Name, err)
	}
	return br, nil
}
