package embedded

import "math/bits"

// bitset is a dense set of a segment's local document numbers. Per-segment
// sets are small (a 100k-document segment is 12.5 KB), so plain words beat
// compressed bitmaps here: intersecting and counting are a loop of ANDs and
// popcounts, which facet counting does for every value of every facet.
type bitset []uint64

func newBitset(n uint64) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i uint32) { b[i>>6] |= 1 << (i & 63) }

func (b bitset) has(i uint32) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(1<<(i&63)) != 0
}

func (b bitset) clone() bitset { return append(bitset(nil), b...) }

// and keeps the members of b that are in o.
func (b bitset) and(o bitset) {
	for i := range b {
		if i < len(o) {
			b[i] &= o[i]
		} else {
			b[i] = 0
		}
	}
}

func (b bitset) or(o bitset) {
	for i := range b {
		if i < len(o) {
			b[i] |= o[i]
		}
	}
}

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

func (b bitset) empty() bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}

func andCount(a, b bitset) int {
	n := 0
	for i := range min(len(a), len(b)) {
		n += bits.OnesCount64(a[i] & b[i])
	}
	return n
}

// each calls fn with the members of b in increasing order.
func (b bitset) each(fn func(uint32)) {
	for i, w := range b {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			fn(uint32(i*64 + t))
			w &= w - 1
		}
	}
}

// andNot removes the members of o from b.
func (b bitset) andNot(o bitset) {
	for i := range min(len(b), len(o)) {
		b[i] &^= o[i]
	}
}

// nextFrom returns the first member of b at least i.
func (b bitset) nextFrom(i uint64) (uint32, bool) {
	w := i >> 6
	if w >= uint64(len(b)) {
		return 0, false
	}
	if m := b[w] >> (i & 63); m != 0 {
		return uint32(i + uint64(bits.TrailingZeros64(m))), true
	}
	for w++; w < uint64(len(b)); w++ {
		if b[w] != 0 {
			return uint32(w<<6 + uint64(bits.TrailingZeros64(b[w]))), true
		}
	}
	return 0, false
}

// prevFrom returns the last member of b at most i.
func (b bitset) prevFrom(i uint64) (uint32, bool) {
	w := i >> 6
	if w >= uint64(len(b)) {
		if len(b) == 0 {
			return 0, false
		}
		w, i = uint64(len(b)-1), uint64(len(b))*64-1
	}
	if m := b[w] << (63 - i&63); m != 0 {
		return uint32(i - uint64(bits.LeadingZeros64(m))), true
	}
	for w > 0 {
		w--
		if b[w] != 0 {
			return uint32(w<<6 + 63 - uint64(bits.LeadingZeros64(b[w]))), true
		}
	}
	return 0, false
}
