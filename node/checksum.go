package node

import (
	"context"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"log/slog"
	"maps"
	"sync"
	"time"
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
	// SetBlobCRC32s records several in one write.
	SetBlobCRC32s(ctx context.Context, crcs map[string]uint32) error
}

// crcCache finds blobs' CRC-32: recorded at upload, or computed once from
// the blob (files stored before CRCs were recorded, or whose recording
// failed) and recorded then. Concurrent requests for the same blob share
// one computation.
//
// Records are written in batches (at most crcFlushEvery after the first,
// or crcFlushSize at once) rather than one catalog transaction, with its
// fsync, per uploaded file: an import of thousands of small files would
// pay them all. A record lost in a crash only costs one read of the blob
// on its next zip.
type crcCache struct {
	store   Checksums
	log     *slog.Logger
	mu      sync.Mutex
	flushMu sync.Mutex
	busy    map[string]*crcCall
	pending map[string]uint32
	// flushing holds the batch being written, so that a value is always
	// found in pending, flushing or the store, never in between.
	flushing map[string]uint32
	timer    *time.Timer
}

const (
	crcFlushEvery = time.Second
	crcFlushSize  = 256
)

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

func (m *memChecksums) SetBlobCRC32s(_ context.Context, crcs map[string]uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	maps.Copy(m.m, crcs)
	return nil
}

func newCRCCache(c Catalog, log *slog.Logger) *crcCache {
	store, ok := c.(Checksums)
	if !ok {
		store = &memChecksums{m: map[string]uint32{}}
	}
	return &crcCache{store: store, log: log, busy: map[string]*crcCall{}, pending: map[string]uint32{}}
}

// lookup returns a pending or recorded CRC-32.
func (c *crcCache) lookup(ctx context.Context, sha256 string) (uint32, bool, error) {
	c.mu.Lock()
	crc, ok := c.queued(sha256)
	c.mu.Unlock()
	if ok {
		return crc, true, nil
	}
	return c.store.BlobCRC32(ctx, sha256)
}

// queued returns a CRC-32 waiting for, or in, a batch write; c.mu held.
func (c *crcCache) queued(sha256 string) (uint32, bool) {
	if crc, ok := c.pending[sha256]; ok {
		return crc, true
	}
	crc, ok := c.flushing[sha256]
	return crc, ok
}

// record queues a CRC-32 for the next batch.
func (c *crcCache) record(sha256 string, crc uint32) {
	c.mu.Lock()
	c.pending[sha256] = crc
	full := len(c.pending) >= crcFlushSize
	if !full && c.timer == nil {
		c.timer = time.AfterFunc(crcFlushEvery, c.flush)
	}
	c.mu.Unlock()
	if full {
		c.flush()
	}
}

// flush writes the pending records; a failure only costs later
// recomputations, so it is logged, not returned.
func (c *crcCache) flush() {
	c.flushMu.Lock() // one batch write at a time: flushing is one map
	defer c.flushMu.Unlock()
	c.mu.Lock()
	batch := c.pending
	c.pending = map[string]uint32{}
	c.flushing = batch
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := c.store.SetBlobCRC32s(context.Background(), batch); err != nil {
		c.log.Warn("record crc-32 of blobs (they will be read again for their next zip)", "blobs", len(batch), "err", err)
	}
	c.mu.Lock()
	c.flushing = nil
	c.mu.Unlock()
}

// BlobCRC32 returns the CRC-32 of the stored blob with that digest,
// reading the blob once if no value is recorded yet.
func (s *Service) BlobCRC32(ctx context.Context, sha256 string) (uint32, error) {
	c := s.crc
	if crc, ok, err := c.lookup(ctx, sha256); err != nil || ok {
		if err != nil {
			return 0, fmt.Errorf("crc-32 of blob %s: %w", sha256, err)
		}
		return crc, nil
	}
	c.mu.Lock()
	// Checked again under the lock: a computation that ended since the
	// lookup above recorded its value before leaving busy.
	if crc, ok := c.queued(sha256); ok {
		c.mu.Unlock()
		return crc, nil
	}
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
	// A batch written since the caller's lookup may hold it already.
	if crc, ok, err := s.crc.store.BlobCRC32(ctx, sha256); err == nil && ok {
		return crc, nil
	}
	br, err := s.blobs.Open(ctx, sha256)
	if err != nil {
		return 0, fmt.Errorf("crc-32 of blob %s: %w", sha256, err)
	}
	defer br.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, br); err != nil {
		return 0, fmt.Errorf("crc-32 of blob %s: %w", sha256, err)
	}
	s.crc.record(sha256, h.Sum32())
	return h.Sum32(), nil
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
func (s *Service) putBlob(ctx context.Context, dst blobPutter, r io.Reader, want string) (Blob, error) {
	cr := newCRCReader(r)
	b, err := dst.Put(ctx, cr, want)
	if err == nil && cr.n == b.Size {
		s.crc.record(b.SHA256, cr.h.Sum32())
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

// FlushChecksums writes the CRC-32 records still waiting for their batch;
// call it before closing the catalog at shutdown.
func (s *Service) FlushChecksums() { s.crc.flush() }
