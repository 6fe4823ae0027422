package bundle_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/bundle"
)

// rawEntry is an entry of a hand-made zip: what archive/zip's writer
// would never write.
type rawEntry struct {
	name   string
	data   []byte
	size   uint32 // declared size; 0 means len(data)
	method uint16
	sameAs int // >= 1: the central record points at entry sameAs-1's local header
}

// rawZip writes entries with local headers, a central directory and its
// end record, as told.
func rawZip(es []rawEntry) []byte {
	var b []byte
	le := binary.LittleEndian
	offs := make([]uint32, len(es))
	for i, e := range es {
		if e.sameAs > 0 {
			continue
		}
		size := e.size
		if size == 0 {
			size = uint32(len(e.data))
		}
		offs[i] = uint32(len(b))
		b = le.AppendUint32(b, 0x04034b50)
		b = le.AppendUint16(b, 20)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint16(b, e.method)
		b = le.AppendUint32(b, 0) // time, date
		b = le.AppendUint32(b, crc32.ChecksumIEEE(e.data))
		b = le.AppendUint32(b, size)
		b = le.AppendUint32(b, size)
		b = le.AppendUint16(b, uint16(len(e.name)))
		b = le.AppendUint16(b, 0)
		b = append(b, e.name...)
		b = append(b, e.data...)
	}
	cd := len(b)
	for i, e := range es {
		size := e.size
		if size == 0 {
			size = uint32(len(e.data))
		}
		off := offs[i]
		if e.sameAs > 0 {
			off = offs[e.sameAs-1]
		}
		b = le.AppendUint32(b, 0x02014b50)
		b = le.AppendUint16(b, 20)
		b = le.AppendUint16(b, 20)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint16(b, e.method)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, crc32.ChecksumIEEE(e.data))
		b = le.AppendUint32(b, size)
		b = le.AppendUint32(b, size)
		b = le.AppendUint16(b, uint16(len(e.name)))
		b = le.AppendUint16(b, 0)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint16(b, 0)
		b = le.AppendUint32(b, 0)
		b = le.AppendUint32(b, off)
		b = append(b, e.name...)
	}
	cdSize := len(b) - cd
	b = le.AppendUint32(b, 0x06054b50)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint16(b, uint16(len(es)))
	b = le.AppendUint16(b, uint16(len(es)))
	b = le.AppendUint32(b, uint32(cdSize))
	b = le.AppendUint32(b, uint32(cd))
	return le.AppendUint16(b, 0)
}

// generated are a valid bundle's generated entries, to which a case adds
// its hostile ones.
func generated(t testing.TB) []rawEntry {
	t.Helper()
	s := spec(1, []int{10}, true)
	b, err := bundle.Plan(s, signer(t))
	if err != nil {
		t.Fatal(err)
	}
	m := b.Manifest()
	return []rawEntry{{name: "manifest.json", data: m}, {name: "manifest.json.sig", data: b.Signature()}}
}

func hostileZips(t testing.TB) []struct {
	name string
	data []byte
	want string
} {
	g := generated(t)
	with := func(es ...rawEntry) []byte { return rawZip(append(append([]rawEntry{}, g...), es...)) }
	x := []byte("0123456789")
	return []struct {
		name string
		data []byte
		want string
	}{
		{"not a zip", []byte("PK\x03\x04 but nothing else"), "not a readable zip"},
		{"empty", nil, "not a readable zip"},
		{"zip-slip", with(rawEntry{name: "../../.bashrc", data: x}), "path not allowed"},
		{"zip-slip in a folder", with(rawEntry{name: "01-seance-1/../../x", data: x}), "more than one folder"},
		{"absolute", with(rawEntry{name: "/etc/passwd", data: x}), "path not allowed"},
		{"backslash", with(rawEntry{name: `01-seance-1\..\x`, data: x}), "path not allowed"},
		{"control character", with(rawEntry{name: "01-seance-1/a\x1b[2Jb", data: x}), "path not allowed"},
		{"unexpected root file", with(rawEntry{name: "autorun.inf", data: x}), "unexpected file at the root"},
		{"duplicate", with(rawEntry{name: "01-seance-1/a.pdf", data: x}, rawEntry{name: "01-seance-1/a.pdf", data: x}), "twice"},
		{"case clash", with(rawEntry{name: "01-seance-1/a.pdf", data: x}, rawEntry{name: "01-SEANCE-1/A.pdf", data: x}), "would be one file"},
		{"huge declared size", with(rawEntry{name: "01-seance-1/a.pdf", data: x, size: 0xFFFFFFF0}), "past the end"},
		{"overlapping entries", with(rawEntry{name: "01-seance-1/a.pdf", data: x}, rawEntry{name: "01-seance-1/b.pdf", data: x, sameAs: 3}), "overlap"},
		{"deflated", with(rawEntry{name: "01-seance-1/a.pdf", data: x, method: 8}), "stored entries only"},
		{"no signature", rawZip(g[:1]), "missing: this is not a signed bundle"},
		{"no manifest", rawZip(g[1:]), "missing: this is not a signed bundle"},
		{"signature too large", rawZip([]rawEntry{g[0], {name: "manifest.json.sig", data: make([]byte, 5000)}}), "more than the 1024 allowed"},
		{"manifest not JSON", rawZip([]rawEntry{{name: "manifest.json", data: []byte("{")}, g[1]}), "unreadable JSON"},
		{"manifest with trailing data", rawZip([]rawEntry{{name: "manifest.json", data: append(bytes.Clone(g[0].data), "{}"...)}, g[1]}), "data after"},
		{"manifest of another format", rawZip([]rawEntry{{name: "manifest.json", data: bytes.Replace(g[0].data, []byte("communs-bundle/1"), []byte("communs-bundle/9"), 1)}, g[1]}), "unknown format"},
		{"manifest listing a zip-slip", rawZip([]rawEntry{{name: "manifest.json", data: bytes.Replace(g[0].data, []byte(`"01-seance-1/fichier-1.pdf"`), []byte(`"../fichier-1.pdf"`), 1)}, g[1]}), "path not allowed"},
		{"manifest listing itself", rawZip([]rawEntry{{name: "manifest.json", data: bytes.Replace(g[0].data, []byte(`"01-seance-1/fichier-1.pdf"`), []byte(`"manifest.json"`), 1)}, g[1]}), "lists itself"},
		{"manifest with a negative size", rawZip([]rawEntry{{name: "manifest.json", data: bytes.Replace(g[0].data, []byte(`"size": 10`), []byte(`"size": -10`), 1)}, g[1]}), "negative size"},
		{"manifest listing a file twice", rawZip([]rawEntry{{name: "manifest.json", data: bytes.Replace(g[0].data, []byte(`"path": "LICENCE.txt"`), []byte(`"path": "01-seance-1/Fichier-1.pdf"`), 1)}, g[1]}), "twice"},
	}
}

// TestOpenRefusesHostileZips: each hostile zip is refused with a reason
// in both languages, never a panic.
func TestOpenRefusesHostileZips(t *testing.T) {
	for _, tc := range hostileZips(t) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bundle.Open(bytes.NewReader(tc.data), int64(len(tc.data)))
			var p *bundle.Problem
			if !errors.As(err, &p) {
				t.Fatalf("err %v (%T), want a *bundle.Problem", err, err)
			}
			if !strings.Contains(p.EN, tc.want) || p.FR == "" || p.FR == p.EN {
				t.Fatalf("problem %+v, want %q", p, tc.want)
			}
		})
	}
	// The generated entries alone, listing a file the zip does not hold,
	// open (their structure is fine) and fail verification.
	g := generated(t)
	data := rawZip(g)
	a, err := bundle.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	k, _ := keys(t)
	if rep := a.Verify(context.Background(), &k.PublicKey); rep.OK() {
		t.Fatal("a bundle without its files verified")
	}
}

// FuzzOpen: whatever the bytes, Open and Verify answer without panicking,
// and Open's refusals are Problems.
func FuzzOpen(f *testing.F) {
	_, good := build(f, spec(1, []int{10}, true))
	f.Add(good)
	for _, tc := range hostileZips(f) {
		f.Add(tc.data)
	}
	k, _ := keys(f)
	ga, err := bundle.Open(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		f.Fatal(err)
	}
	goodManifest := ga.ManifestBytes()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := bundle.Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var p *bundle.Problem
			if !errors.As(err, &p) {
				t.Fatalf("err %v is not a Problem", err)
			}
			return
		}
		rep := a.Verify(context.Background(), &k.PublicKey)
		// The fuzzer may change bytes no digest covers (zip headers'
		// times), but only the signed manifest verifies.
		if rep.OK() && !bytes.Equal(a.ManifestBytes(), goodManifest) {
			t.Fatal("another manifest verified")
		}
	})
}
