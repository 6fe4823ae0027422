// Package storedzip lays out a zip archive of stored (uncompressed) entries
// from their metadata alone (name, size, CRC-32, time), so that the archive's
// size and every byte offset are known before the first byte is read, and
// reads it as a seekable stream: headers and small generated entries come
// from memory, large entries from a ranged read of their source. That is
// what lets an HTTP server announce Content-Length and answer Range requests
// for an archive it never holds, in memory or on disk.
//
// The layout is deterministic: the same entries give the same bytes, byte
// for byte, whatever the version of Go (no compression, no clock). ZIP64
// records are written only where a size, an offset or the number of entries
// does not fit the classic fields (APPNOTE 6.3.10, section 4.5.3).
package storedzip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// Entry is one file of the archive.
type Entry struct {
	Name     string
	Size     int64
	CRC32    uint32
	Modified time.Time
	// Data holds the bytes of a small generated entry (Size must be its
	// length); nil means the bytes are read through the Opener from Key.
	Data []byte
	// Key names the entry's source for the Opener (a blob digest).
	Key string
}

// Opener opens an entry's source; the reader must hold exactly Entry.Size
// bytes and support Seek from the start. A Reader may call it from another
// goroutine (to open the next entry while one is read).
type Opener func(key string) (io.ReadSeekCloser, error)

const (
	sigLocal       = 0x04034b50
	sigCentral     = 0x02014b50
	sigEnd         = 0x06054b50
	sigEnd64       = 0x06064b50
	sigEnd64Locate = 0x07064b50

	localLen      = 30
	centralLen    = 46
	endLen        = 22
	end64Len      = 56
	end64LocLen   = 20
	extTimeLen    = 9 // 0x5455: header 4, flags 1, mtime 4
	zip64ExtraID  = 0x0001
	extTimeID     = 0x5455
	version20     = 20
	version45     = 45 // ZIP64
	creatorUnix   = 3
	flagUTF8      = 0x800
	regularFile   = 0o100644 << 16 // external attributes: a Unix mode
	max16         = math.MaxUint16
	max32         = math.MaxUint32
	maxNameLength = math.MaxUint16
)

// part is a run of archive bytes: from memory, or from an entry's source.
type part struct {
	off   int64
	size  int64
	data  []byte // nil for a source part
	entry int    // index of the entry whose source is read; -1 for memory
}

// Layout is an archive's byte plan. It is immutable and safe to share.
type Layout struct {
	entries []Entry
	parts   []part
	size    int64
}

// Plan lays out the archive of entries, in order. It refuses what no zip
// can hold or what would make a broken archive: an empty, over-long or
// non-UTF-8 name, a negative size, Data whose length is not Size.
func Plan(entries []Entry) (*Layout, error) {
	l := &Layout{entries: entries}
	var central []byte
	var off int64
	add := func(p part) {
		p.off = off
		l.parts = append(l.parts, p)
		off += p.size
	}
	for i, e := range entries {
		if e.Name == "" || len(e.Name) > maxNameLength || !utf8.ValidString(e.Name) {
			return nil, fmt.Errorf("zip entry %d: name %q cannot be stored", i, e.Name)
		}
		if e.Size < 0 || (e.Data != nil && int64(len(e.Data)) != e.Size) {
			return nil, fmt.Errorf("zip entry %q: size %d does not match its bytes", e.Name, e.Size)
		}
		local := localHeader(e)
		central = appendCentral(central, e, off)
		add(part{size: int64(len(local)), data: local, entry: -1})
		switch {
		case e.Size == 0:
		case e.Data != nil:
			add(part{size: e.Size, data: e.Data, entry: -1})
		default:
			add(part{size: e.Size, entry: i})
		}
		if off < 0 {
			return nil, errors.New("zip too large")
		}
	}
	cdOff, cdSize := off, int64(len(central))
	tail := central
	if len(entries) >= max16 || cdSize >= max32 || cdOff >= max32 {
		end64At := cdOff + cdSize
		tail = binary.LittleEndian.AppendUint32(tail, sigEnd64)
		tail = binary.LittleEndian.AppendUint64(tail, end64Len-12)
		tail = binary.LittleEndian.AppendUint16(tail, creatorUnix<<8|version45)
		tail = binary.LittleEndian.AppendUint16(tail, version45)
		tail = binary.LittleEndian.AppendUint32(tail, 0) // this disk
		tail = binary.LittleEndian.AppendUint32(tail, 0) // disk of the central directory
		tail = binary.LittleEndian.AppendUint64(tail, uint64(len(entries)))
		tail = binary.LittleEndian.AppendUint64(tail, uint64(len(entries)))
		tail = binary.LittleEndian.AppendUint64(tail, uint64(cdSize))
		tail = binary.LittleEndian.AppendUint64(tail, uint64(cdOff))
		tail = binary.LittleEndian.AppendUint32(tail, sigEnd64Locate)
		tail = binary.LittleEndian.AppendUint32(tail, 0)
		tail = binary.LittleEndian.AppendUint64(tail, uint64(end64At))
		tail = binary.LittleEndian.AppendUint32(tail, 1) // disks in all
		tail = appendEnd(tail, max16, max32, max32)
	} else {
		tail = appendEnd(tail, len(entries), cdSize, cdOff)
	}
	add(part{size: int64(len(tail)), data: tail, entry: -1})
	l.size = off
	return l, nil
}

// Size is the archive's length in bytes.
func (l *Layout) Size() int64 { return l.size }

// Fingerprint writes to w what identifies the archive's bytes: the bytes
// held in memory and, for each entry read from its source, its key and
// size. Hashed, it makes a strong ETag whenever equal keys mean equal bytes
// (content-addressed sources).
func (l *Layout) Fingerprint(w io.Writer) {
	var n [8]byte
	for _, p := range l.parts {
		binary.LittleEndian.PutUint64(n[:], uint64(p.size))
		w.Write(n[:])
		if p.entry < 0 {
			w.Write(p.data)
		} else {
			io.WriteString(w, l.entries[p.entry].Key)
		}
	}
}

func dosTime(t time.Time) (date, clock uint16) {
	t = t.UTC()
	switch {
	case t.Year() < 1980:
		return 1<<5 | 1, 0 // 1980-01-01 00:00
	case t.Year() > 2107:
		return 127<<9 | 12<<5 | 31, 23<<11 | 59<<5 | 29
	}
	date = uint16(t.Day() + int(t.Month())<<5 + (t.Year()-1980)<<9)
	clock = uint16(t.Second()/2 + t.Minute()<<5 + t.Hour()<<11)
	return date, clock
}

func flags(name string) uint16 {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return flagUTF8
		}
	}
	return 0
}

// extTime is the "extended timestamp" extra field (0x5455) with the
// modification time in Unix seconds, which readers prefer to the DOS time
// (local, two-second steps); left out for times it cannot hold.
func extTime(t time.Time) []byte {
	u := t.Unix()
	if u < 0 || u > max32 {
		return nil
	}
	b := binary.LittleEndian.AppendUint16(nil, extTimeID)
	b = binary.LittleEndian.AppendUint16(b, extTimeLen-4)
	b = append(b, 1) // modification time present
	return binary.LittleEndian.AppendUint32(b, uint32(u))
}

func localHeader(e Entry) []byte {
	var extra []byte
	version := uint16(version20)
	size32 := uint32(e.Size)
	if e.Size >= max32 {
		version, size32 = version45, max32
		extra = binary.LittleEndian.AppendUint16(extra, zip64ExtraID)
		extra = binary.LittleEndian.AppendUint16(extra, 16)
		extra = binary.LittleEndian.AppendUint64(extra, uint64(e.Size)) // uncompressed
		extra = binary.LittleEndian.AppendUint64(extra, uint64(e.Size)) // compressed
	}
	extra = append(extra, extTime(e.Modified)...)
	date, clock := dosTime(e.Modified)
	b := make([]byte, 0, localLen+len(e.Name)+len(extra))
	b = binary.LittleEndian.AppendUint32(b, sigLocal)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, flags(e.Name))
	b = binary.LittleEndian.AppendUint16(b, 0) // stored
	b = binary.LittleEndian.AppendUint16(b, clock)
	b = binary.LittleEndian.AppendUint16(b, date)
	b = binary.LittleEndian.AppendUint32(b, e.CRC32)
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(e.Name)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(extra)))
	b = append(b, e.Name...)
	return append(b, extra...)
}

func appendCentral(b []byte, e Entry, off int64) []byte {
	var z64 []byte
	size32, off32 := uint32(e.Size), uint32(off)
	if e.Size >= max32 {
		size32 = max32
		z64 = binary.LittleEndian.AppendUint64(z64, uint64(e.Size)) // uncompressed
		z64 = binary.LittleEndian.AppendUint64(z64, uint64(e.Size)) // compressed
	}
	if off >= max32 {
		off32 = max32
		z64 = binary.LittleEndian.AppendUint64(z64, uint64(off))
	}
	var extra []byte
	version := uint16(version20)
	if z64 != nil {
		version = version45
		extra = binary.LittleEndian.AppendUint16(extra, zip64ExtraID)
		extra = binary.LittleEndian.AppendUint16(extra, uint16(len(z64)))
		extra = append(extra, z64...)
	}
	extra = append(extra, extTime(e.Modified)...)
	date, clock := dosTime(e.Modified)
	b = binary.LittleEndian.AppendUint32(b, sigCentral)
	b = binary.LittleEndian.AppendUint16(b, creatorUnix<<8|version)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, flags(e.Name))
	b = binary.LittleEndian.AppendUint16(b, 0) // stored
	b = binary.LittleEndian.AppendUint16(b, clock)
	b = binary.LittleEndian.AppendUint16(b, date)
	b = binary.LittleEndian.AppendUint32(b, e.CRC32)
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint32(b, size32)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(e.Name)))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(extra)))
	b = binary.LittleEndian.AppendUint16(b, 0) // comment
	b = binary.LittleEndian.AppendUint16(b, 0) // disk
	b = binary.LittleEndian.AppendUint16(b, 0) // internal attributes
	b = binary.LittleEndian.AppendUint32(b, regularFile)
	b = binary.LittleEndian.AppendUint32(b, off32)
	b = append(b, e.Name...)
	return append(b, extra...)
}

func appendEnd(b []byte, records int, cdSize, cdOff int64) []byte {
	b = binary.LittleEndian.AppendUint32(b, sigEnd)
	b = binary.LittleEndian.AppendUint16(b, 0) // this disk
	b = binary.LittleEndian.AppendUint16(b, 0) // disk of the central directory
	b = binary.LittleEndian.AppendUint16(b, uint16(min(records, max16)))
	b = binary.LittleEndian.AppendUint16(b, uint16(min(records, max16)))
	b = binary.LittleEndian.AppendUint32(b, uint32(min(cdSize, max32)))
	b = binary.LittleEndian.AppendUint32(b, uint32(min(cdOff, max32)))
	return binary.LittleEndian.AppendUint16(b, 0) // comment
}

// Reader reads an archive laid out by Plan. It keeps at most two sources
// open (the one read, and the next one during a copy that reaches it),
// reads forward and seeks only when a read jumps, so memory does not grow
// with the archive. It is not safe for concurrent use.
type Reader struct {
	l    *Layout
	open Opener
	pos  int64

	src      io.ReadSeekCloser
	srcEntry int   // entry src belongs to; -1 when none is open
	srcPos   int64 // position of src within the entry
	// next is the source of the following entry, opened while src is read
	// when the copy in progress (ending at until) goes past src's entry:
	// on S3 an open is a request, whose latency then overlaps the
	// transfer instead of stalling it between files.
	next  *opening
	until int64
	// Err is the first error a source gave, kept for the log since the
	// HTTP code that reads may swallow it.
	Err error
}

// NewReader reads l, opening entries' sources with open.
func (l *Layout) NewReader(open Opener) *Reader {
	return &Reader{l: l, open: open, srcEntry: -1}
}

// Adopt hands the reader an already opened source of the entry keyed key
// (opened early to detect a store that is down before answering), at its
// start; it is used if the first source read is that one, else closed.
func (r *Reader) Adopt(key string, src io.ReadSeekCloser) {
	for i, e := range r.l.entries {
		if e.Data == nil && e.Key == key {
			r.closeSrc()
			r.src, r.srcEntry, r.srcPos = src, i, 0
			return
		}
	}
	src.Close()
}

// Seek implements io.Seeker.
func (r *Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.l.size
	default:
		return r.pos, errors.New("storedzip: invalid whence")
	}
	if offset < 0 {
		return r.pos, errors.New("storedzip: negative position")
	}
	r.pos = offset
	return offset, nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	return r.copy(nil, p, int64(len(p)))
}

// CopyTo writes the next n bytes (fewer at the end of the archive, which
// is not an error, as for io.ReaderFrom) to w,
// each source part with one io.CopyN so that w's ReadFrom (sendfile for a
// socket and a file) applies.
func (r *Reader) CopyTo(w io.Writer, n int64) (int64, error) {
	r.until = r.pos + n
	defer func() { r.until = 0 }()
	var done int64
	for done < n {
		k, err := r.copy(w, nil, n-done)
		done += int64(k)
		if err == io.EOF {
			return done, nil
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// copy moves up to n bytes of one part from the current position into p
// (when w is nil) or to w.
func (r *Reader) copy(w io.Writer, p []byte, n int64) (int, error) {
	if r.pos >= r.l.size {
		return 0, io.EOF
	}
	if n == 0 {
		return 0, nil
	}
	pt := r.l.partAt(r.pos)
	within := r.pos - pt.off
	n = min(n, pt.size-within)
	if pt.entry < 0 {
		b := pt.data[within : within+n]
		if w == nil {
			k := copy(p, b)
			r.pos += int64(k)
			return k, nil
		}
		k, err := w.Write(b)
		r.pos += int64(k)
		return k, err
	}
	if err := r.sourceAt(pt.entry, within, pt.off+pt.size); err != nil {
		return 0, err
	}
	var k int64
	var err error
	if w == nil {
		var m int
		m, err = r.src.Read(p[:n])
		k = int64(m)
		if err == io.EOF && k > 0 {
			err = nil
		}
	} else {
		k, err = io.CopyN(w, r.src, n)
	}
	r.pos += k
	r.srcPos += k
	if err == io.EOF {
		err = io.ErrUnexpectedEOF // the source is shorter than announced
	}
	if err != nil {
		r.fail(err)
	}
	return int(k), err
}

func (r *Reader) fail(err error) {
	if r.Err == nil {
		r.Err = err
	}
	r.closeSrc()
	r.dropNext()
}

// opening is a source being opened in the background.
type opening struct {
	entry int
	done  chan struct{}
	src   io.ReadSeekCloser
	err   error
}

// sourceAt makes src the source of entry i positioned at off; end is where
// the entry's bytes end in the archive.
func (r *Reader) sourceAt(i int, off, end int64) error {
	if r.srcEntry != i {
		r.closeSrc()
		var src io.ReadSeekCloser
		var err error
		if o := r.next; o != nil && o.entry == i {
			r.next = nil
			<-o.done
			src, err = o.src, o.err
		} else {
			r.dropNext()
			src, err = r.open(r.l.entries[i].Key)
		}
		if err != nil {
			r.fail(err)
			return err
		}
		r.src, r.srcEntry, r.srcPos = src, i, 0
		if r.until > end {
			r.prefetch(i)
		}
	}
	if r.srcPos != off {
		if _, err := r.src.Seek(off, io.SeekStart); err != nil {
			r.fail(err)
			return err
		}
		r.srcPos = off
	}
	return nil
}

func (r *Reader) closeSrc() {
	if r.src != nil {
		r.src.Close()
		r.src, r.srcEntry = nil, -1
	}
}

// prefetch starts opening the source of the first entry after i that has
// one.
func (r *Reader) prefetch(i int) {
	for j := i + 1; j < len(r.l.entries); j++ {
		if e := r.l.entries[j]; e.Data == nil && e.Size > 0 {
			o := &opening{entry: j, done: make(chan struct{})}
			r.next = o
			open := r.open
			go func() {
				defer close(o.done)
				o.src, o.err = open(e.Key)
			}()
			return
		}
	}
}

// dropNext closes a source opened ahead that will not be read, once its
// opening ends.
func (r *Reader) dropNext() {
	if o := r.next; o != nil {
		r.next = nil
		go func() {
			<-o.done
			if o.src != nil {
				o.src.Close()
			}
		}()
	}
}

// Close closes the open sources, if any.
func (r *Reader) Close() error {
	r.closeSrc()
	r.dropNext()
	return nil
}

// partAt finds the part holding archive offset pos (< size).
func (l *Layout) partAt(pos int64) part {
	lo, hi := 0, len(l.parts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l.parts[mid].off <= pos {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return l.parts[lo]
}
