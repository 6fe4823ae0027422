// Package corpus holds the demo corpus (data/resources.jsonl, 120 kits,
// embedded in the binary) and generates the deterministic file bytes it
// describes, so that tests, benchmarks and demos on two machines produce
// identical files and digests. Nothing here reads outside the repository:
// $COMMUNS_CORPUS may point at another corpus of the same format.
package corpus

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/communs-numerique/communs/internal/kit"
	"github.com/communs-numerique/communs/node"
)

//go:embed data/resources.jsonl
var embedded []byte

// Default reads $COMMUNS_CORPUS when it is set, else the embedded demo
// corpus.
func Default() ([]node.Resource, error) {
	if p := os.Getenv("COMMUNS_CORPUS"); p != "" {
		return Load(p)
	}
	return parse(bytes.NewReader(embedded), "embedded corpus")
}

// Load reads every resource of the corpus file at path, in file order.
func Load(path string) ([]node.Resource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open corpus: %w", err)
	}
	defer f.Close()
	return parse(f, path)
}

func parse(r io.Reader, name string) ([]node.Resource, error) {
	var out []node.Resource
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var r node.Resource
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// MustLoad loads the corpus Default reads or fails the test.
func MustLoad(t interface {
	Helper()
	Fatalf(string, ...any)
}) []node.Resource {
	t.Helper()
	rs, err := Default()
	if err != nil {
		t.Fatalf("%v", err)
	}
	return rs
}

// signature returns the leading bytes that make a file plausible for its type.
func signature(name string) []byte {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pdf":
		return []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	case ".zip", ".odt", ".odp", ".epub":
		return []byte("PK\x03\x04")
	case ".png":
		return []byte("\x89PNG\r\n\x1a\n")
	case ".mp4":
		return []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")
	}
	return nil
}

func isText(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".md", ".csv", ".txt":
		return true
	}
	return false
}

// Content returns a reader of exactly size deterministic bytes for the file
// name of resource id: a PRNG seeded from "id/name", behind the format's
// signature (plain UTF-8 text for md/csv). It never holds the file in memory.
func Content(id, name string, size int64) io.Reader {
	seed := fnv64(id + "/" + name)
	return &generator{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		prefix: signature(name),
		text:   isText(name),
		left:   size,
	}
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

type generator struct {
	rng    *rand.Rand
	prefix []byte
	text   bool
	left   int64
}

func (g *generator) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	if len(g.prefix) > 0 {
		n = copy(p, g.prefix)
		g.prefix = g.prefix[n:]
	}
	if g.text {
		// ASCII only, so a cut at any size still leaves valid UTF-8.
		for ; n < len(p); n++ {
			p[n] = "abcdefghijklmnopqrstuvwxyz ,.;\n"[g.rng.IntN(31)]
		}
	} else {
		for n < len(p) {
			v := g.rng.Uint64()
			for k := 0; k < 8 && n < len(p); k++ {
				p[n] = byte(v >> (8 * k))
				n++
			}
		}
	}
	g.left -= int64(n)
	return n, nil
}

// WriteKits writes one kit folder per resource under dir: resource.json and
// its files. Files larger than maxFileSize (when > 0) are written at that
// size and the resource.json records the reduced size, so quick tests skip
// the big videos while keeping every resource.
func WriteKits(dir string, rs []node.Resource, maxFileSize int64) error {
	for _, r := range rs {
		kit := filepath.Join(dir, r.ID)
		if err := os.MkdirAll(kit, 0o755); err != nil {
			return err
		}
		for i, f := range r.Files {
			size := f.Size
			if maxFileSize > 0 && size > maxFileSize {
				size = maxFileSize
			}
			r.Files[i].Size = size
			if err := writeFile(filepath.Join(kit, f.Name), Content(r.ID, f.Name, size)); err != nil {
				return err
			}
		}
		meta, err := json.MarshalIndent(kitJSON(r), "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(kit, "resource.json"), append(meta, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// kitJSON is r as a kit's resource.json, in the type internal/kit reads.
func kitJSON(r node.Resource) kit.Meta {
	k := kit.Meta{ID: r.ID, Metadata: r.Metadata}
	for _, f := range r.Files {
		size := f.Size
		k.Files = append(k.Files, kit.File{Name: f.Name, MediaType: f.MediaType, Size: &size, SHA256: f.SHA256})
	}
	return k
}

func writeFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Open returns the resources the default licence policy accepts (the 110
// of the shared corpus): what a node with default settings imports.
func Open(rs []node.Resource) []node.Resource {
	policy, err := node.NewPolicy()
	if err != nil {
		panic(err)
	}
	var out []node.Resource
	for _, r := range rs {
		if policy.Check(r.License) == nil {
			out = append(out, r)
		}
	}
	return out
}
