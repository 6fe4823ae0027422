package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// copyBuffers is how many copyBuf buffers a large copy cycles through: one
// being filled from the source while the others are written and hashed
// (1.5 MiB per upload in all), enough for the reader not to wait on a
// hasher briefly off its core.
const copyBuffers = 6

// writebackEvery is how many bytes a Put writes before it asks the kernel
// to start writing them to disk (see startWriteback).
const writebackEvery = 8 << 20

// copyHashed copies r into the temporary file f while hashing it, and
// returns the SHA-256, checked against want when one is declared, and the
// size.
//
// Bytes go to f in writes of up to copyBuf (256 KiB), whatever sizes the
// source reads in: *os.File's ReadFrom, which io.Copy would pick, writes in
// 32 KiB pieces. 1 MiB buffers were slower (they leave the cache between
// the read, the hash and the write). A source larger than one buffer is
// hashed by a second goroutine while the next buffer is read and written:
// SHA-256 runs at about 1.7 GB/s on this project's machine, the third of a
// disk upload's CPU time when it ran in line with the copy. The hash still
// covers every byte written, in order, and nothing is returned before it
// is complete.
//
// When f can start its writeback early (a *os.File on Linux), it is asked
// to every writebackEvery bytes, so that the fsync that follows waits for
// the tail of the file rather than all of it. That changes no guarantee:
// the caller still syncs f before the rename.
func copyHashed(ctx context.Context, f io.Writer, r io.Reader, want string) (string, int64, error) {
	c := hashCopy{ctx: ctx, f: f, r: r, h: sha256.New()}
	if wb, ok := f.(writebacker); ok {
		c.wb = wb
	}
	if err := c.run(); err != nil {
		return "", 0, err
	}
	got := hex.EncodeToString(c.h.Sum(nil))
	if want != "" && got != want {
		return "", 0, fmt.Errorf("put blob: %w", mismatch(want, got))
	}
	return got, c.n, nil
}

// writebacker starts writing back [off, off+n) of a file without waiting.
type writebacker interface {
	startWriteback(off, n int64)
}

type hashCopy struct {
	ctx     context.Context
	f       io.Writer
	r       io.Reader
	h       hash.Hash
	wb      writebacker
	n       int64 // bytes written
	flushed int64 // bytes handed to startWriteback
}

func (c *hashCopy) run() error {
	first := bufPool.Get().(*[]byte)
	n, eof, err := c.fill(*first)
	if err != nil {
		bufPool.Put(first)
		return err
	}
	if eof {
		// The whole source fits in one buffer (most kit files): no
		// goroutine for so little.
		c.h.Write((*first)[:n])
		err := c.write((*first)[:n])
		bufPool.Put(first)
		return err
	}

	bufs := []*[]byte{first}
	for range copyBuffers - 1 {
		bufs = append(bufs, bufPool.Get().(*[]byte))
	}
	free := make(chan *[]byte, len(bufs))
	for _, b := range bufs[1:] {
		free <- b
	}
	type chunk struct {
		buf *[]byte
		n   int
	}
	work := make(chan chunk, len(bufs))
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for ch := range work {
			c.h.Write((*ch.buf)[:ch.n])
			free <- ch.buf
		}
	}()
	defer func() {
		// The hasher reads the buffers until it is done: wait for it
		// before they go back to the pool, on every path.
		close(work)
		<-hashed
		for _, b := range bufs {
			bufPool.Put(b)
		}
	}()

	buf := first
	for {
		// The hasher and the write only read the buffer, so both run at
		// once; it is filled again only once it came back from the hasher,
		// after its write returned.
		work <- chunk{buf, n}
		if err := c.write((*buf)[:n]); err != nil {
			return err
		}
		if eof {
			return nil
		}
		buf = <-free
		if n, eof, err = c.fill(*buf); err != nil {
			return err
		}
	}
}

// fill reads from the source until p is full or the source ends; eof
// reports the end.
func (c *hashCopy) fill(p []byte) (n int, eof bool, err error) {
	for n < len(p) {
		// A cancelled request must stop a multi-gigabyte copy now, not at EOF.
		if err := c.ctx.Err(); err != nil {
			return n, false, fmt.Errorf("put blob: read source: %w", err)
		}
		m, err := c.r.Read(p[n:])
		n += m
		if err == io.EOF {
			return n, true, nil
		}
		if err != nil {
			return n, false, fmt.Errorf("put blob: read source: %w", err)
		}
	}
	return n, false, nil
}

func (c *hashCopy) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if _, err := c.f.Write(p); err != nil {
		return fmt.Errorf("put blob: write temp file: %w", err)
	}
	c.n += int64(len(p))
	if c.wb != nil && c.n-c.flushed >= writebackEvery {
		c.wb.startWriteback(c.flushed, c.n-c.flushed)
		c.flushed = c.n
	}
	return nil
}
