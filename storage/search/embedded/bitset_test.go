package embedded

import (
	"math/rand/v2"
	"testing"
)

// TestBitsetSeek checks nextFrom, prevFrom and andNot against a plain
// scan over random sets, word edges included.
func TestBitsetSeek(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []uint64{0, 1, 63, 64, 65, 200, 1000} {
		for _, density := range []float64{0, 0.01, 0.3, 1} {
			b, o := newBitset(n), newBitset(n)
			members := map[uint64]bool{}
			for i := uint64(0); i < n; i++ {
				if rng.Float64() < density {
					b.set(uint32(i))
					members[i] = true
				}
				if rng.Float64() < 0.5 {
					o.set(uint32(i))
				}
			}
			for i := uint64(0); i < n+70; i++ {
				wantNext, okNext := uint64(0), false
				for j := i; j < n; j++ {
					if members[j] {
						wantNext, okNext = j, true
						break
					}
				}
				if got, ok := b.nextFrom(i); ok != okNext || (ok && uint64(got) != wantNext) {
					t.Fatalf("n=%d density=%v nextFrom(%d) = %d,%v want %d,%v", n, density, i, got, ok, wantNext, okNext)
				}
				wantPrev, okPrev := uint64(0), false
				for j := int64(min(i, n)); j >= 0; j-- {
					if members[uint64(j)] {
						wantPrev, okPrev = uint64(j), true
						break
					}
				}
				if got, ok := b.prevFrom(i); ok != okPrev || (ok && uint64(got) != wantPrev) {
					t.Fatalf("n=%d density=%v prevFrom(%d) = %d,%v want %d,%v", n, density, i, got, ok, wantPrev, okPrev)
				}
			}
			c := b.clone()
			c.andNot(o)
			for i := uint64(0); i < n; i++ {
				if c.has(uint32(i)) != (members[i] && !o.has(uint32(i))) {
					t.Fatalf("andNot wrong at %d", i)
				}
			}
		}
	}
}
