package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/communs-numerique/communs/node"
)

// choppyReader returns its bytes in reads of random sizes, as a network
// body does, so that copies cross buffer boundaries at odd places.
type choppyReader struct {
	data []byte
	rnd  *rand.Rand
}

func (c *choppyReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.rnd.IntN(200<<10))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// recordingFile is a temp file that records the writeback it is asked for.
type recordingFile struct {
	bytes.Buffer
	maxWrite  int
	writeback [][2]int64
}

func (f *recordingFile) Write(p []byte) (int, error) {
	f.maxWrite = max(f.maxWrite, len(p))
	return f.Buffer.Write(p)
}

func (f *recordingFile) startWriteback(off, n int64) {
	f.writeback = append(f.writeback, [2]int64{off, n})
}

// TestCopyHashed: whatever sizes the source reads in, the file gets every
// byte in order, in writes of at most 1 MiB, the digest is the bytes', and
// writeback is asked for each 8 MiB written, in order and without gaps.
func TestCopyHashed(t *testing.T) {
	for _, size := range []int{0, 1, copyBuf - 1, copyBuf, copyBuf + 1, 3*copyBuf + 5, writebackEvery, 3*writebackEvery + 12345} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			rnd := rand.New(rand.NewPCG(uint64(size), 14))
			for i := range data {
				data[i] = byte(rnd.Uint32())
			}
			sum := sha256.Sum256(data)
			want := hex.EncodeToString(sum[:])
			f := &recordingFile{}
			got, n, err := copyHashed(context.Background(), f, &choppyReader{data: data, rnd: rnd}, want)
			if err != nil {
				t.Fatal(err)
			}
			if got != want || n != int64(size) || !bytes.Equal(f.Bytes(), data) {
				t.Fatalf("copy: digest %s, %d bytes, file equal %v; want %s, %d bytes", got, n, bytes.Equal(f.Bytes(), data), want, size)
			}
			if f.maxWrite > copyBuf {
				t.Errorf("a write of %d bytes, want at most %d", f.maxWrite, copyBuf)
			}
			var next int64
			for _, wb := range f.writeback {
				if wb[0] != next || wb[1] < writebackEvery {
					t.Fatalf("writeback asked for %v, want ranges of at least %d from 0 without gaps", f.writeback, writebackEvery)
				}
				next = wb[0] + wb[1]
			}
			if wantN := int64(size) / writebackEvery; int64(len(f.writeback)) != wantN {
				t.Errorf("writeback asked %d times for %d bytes, want %d", len(f.writeback), size, wantN)
			}
		})
	}
}

// TestCopyHashedFailures: a broken source, a cancelled request and a
// digest that does not match end the copy with their own error.
func TestCopyHashedFailures(t *testing.T) {
	data := bytes.Repeat([]byte("communs "), 1<<19) // 4 MiB: the pipelined path
	broken := errors.New("client went away")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		r    io.Reader
		want string
		is   error
	}{
		{"broken source", context.Background(), io.MultiReader(bytes.NewReader(data), &errReader{broken}), "", broken},
		{"cancelled", ctx, bytes.NewReader(data), "", context.Canceled},
		{"digest mismatch", context.Background(), bytes.NewReader(data), hex.EncodeToString(make([]byte, 32)), node.ErrDigestMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := copyHashed(tc.ctx, io.Discard, tc.r, tc.want)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
		})
	}
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }
