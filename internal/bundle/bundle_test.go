package bundle_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/bundle"
)

const keyID = "https://hub-du-sud.example/actor#main-key"

var (
	keyOnce    sync.Once
	key, other *rsa.PrivateKey
)

// keys are generated once: RSA 2048 takes a while.
func keys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return key, other
}

func signer(t testing.TB) *bundle.RSASigner {
	t.Helper()
	k, _ := keys(t)
	s, err := bundle.NewRSASigner(k, keyID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// onlyReader hides Seek: a source read forward only.
type onlyReader struct{ io.Reader }

func (onlyReader) Close() error { return nil }

// memFile is a file of the given bytes; seekable says whether its reader
// can seek.
func memFile(name string, data []byte, seekable bool) bundle.File {
	sum := sha256.Sum256(data)
	return bundle.File{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), CRC32: crc32.ChecksumIEEE(data),
		Open: func(context.Context) (io.ReadCloser, error) {
			if seekable {
				return nopCloser{bytes.NewReader(data)}, nil
			}
			return onlyReader{bytes.NewReader(data)}, nil
		}}
}

func randBytes(seed uint64, n int) []byte {
	r := mrand.New(mrand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var created = time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)

// spec is a collection of items, each with files of the given sizes.
func spec(items int, sizes []int, seekable bool) bundle.Spec {
	s := bundle.Spec{Hub: bundle.Hub{Name: "Hub du Sud", URL: "https://hub-du-sud.example/"},
		Title: "Premiers pas numériques", URL: "https://hub-du-sud.example/collections/premiers-pas", Created: created}
	for i := range items {
		it := bundle.Item{Folder: fmt.Sprintf("%02d-seance-%d", i+1, i+1), Title: fmt.Sprintf("Séance %d", i+1),
			URL:             fmt.Sprintf("https://hub-du-sud.example/r/seance-%d", i+1),
			AttributionLine: fmt.Sprintf("« Séance %d » par Centre social Les Tilleuls, CC BY 4.0", i+1),
			License:         "CC-BY-4.0", LicenseName: "Creative Commons Attribution 4.0", LicenseURL: "https://creativecommons.org/licenses/by/4.0/"}
		for j, n := range sizes {
			it.Files = append(it.Files, memFile(fmt.Sprintf("fichier-%d.pdf", j+1), randBytes(uint64(i*100+j), n), seekable))
		}
		s.Items = append(s.Items, it)
	}
	return s
}

func build(t testing.TB, s bundle.Spec) (*bundle.Bundle, []byte) {
	t.Helper()
	b, err := bundle.Plan(s, signer(t))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := b.WriteTo(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != b.Size() || int64(buf.Len()) != b.Size() {
		t.Fatalf("wrote %d bytes (%d in the buffer), Size said %d", n, buf.Len(), b.Size())
	}
	return b, buf.Bytes()
}

func verify(t testing.TB, data []byte, pub *rsa.PublicKey) (bundle.Report, error) {
	t.Helper()
	a, err := bundle.Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return bundle.Report{}, err
	}
	return a.Verify(context.Background(), pub), nil
}

func TestRoundTrip(t *testing.T) {
	k, _ := keys(t)
	for _, seekable := range []bool{true, false} {
		t.Run(fmt.Sprint("seekable=", seekable), func(t *testing.T) {
			s := spec(3, []int{70_000, 0, 1, 5_000}, seekable)
			s.Items[1].Note = "Séance 2 : créer son adresse e-mail"
			s.Items[2].Remote = []bundle.RemoteFile{{Name: "video.mp4", URL: "https://hub-b.example/r/x/files/video.mp4"}}
			_, data := build(t, s)
			rep, err := verify(t, data, &k.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Files != 13 {
				t.Fatalf("report %+v, want OK with 12 files and LICENCE.txt", rep)
			}
			// What an unzip shows: the files in their folders, LICENCE.txt
			// crediting each item, the manifest listing each file.
			zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]byte{}
			for _, f := range zr.File {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				if err != nil {
					t.Fatalf("%s: %v", f.Name, err)
				}
				got[f.Name] = b
			}
			for _, it := range s.Items {
				for _, f := range it.Files {
					rc, _ := f.Open(context.Background())
					want, _ := io.ReadAll(rc)
					if !bytes.Equal(got[it.Folder+"/"+f.Name], want) {
						t.Errorf("%s/%s: bytes differ", it.Folder, f.Name)
					}
				}
			}
			lic := string(got["LICENCE.txt"])
			for _, want := range []string{s.Items[0].AttributionLine, s.Items[2].AttributionLine, "Creative Commons Attribution 4.0 (CC-BY-4.0)",
				"Séance 2 : créer son adresse e-mail", "video.mp4 : https://hub-b.example/r/x/files/video.mp4", keyID} {
				if !strings.Contains(lic, want) {
					t.Errorf("LICENCE.txt lacks %q:\n%s", want, lic)
				}
			}
			if strings.Index(lic, "Chaque dossier") > strings.Index(lic, "Each folder") {
				t.Error("LICENCE.txt: English before French")
			}
			var m bundle.Manifest
			if err := json.Unmarshal(got["manifest.json"], &m); err != nil {
				t.Fatal(err)
			}
			if m.KeyID != keyID || m.Hub.Name != "Hub du Sud" || m.Created != "2026-11-03T09:30:00Z" || len(m.Files) != 13 || len(m.Items) != 3 {
				t.Errorf("manifest %+v", m)
			}
			if f := m.Files[4]; f.Path != "02-seance-2/fichier-1.pdf" || f.Size != 70_000 || f.SHA256 != s.Items[1].Files[0].SHA256 {
				t.Errorf("manifest file %+v", f)
			}
			if zr.File[0].Name != "LICENCE.txt" || zr.File[1].Name != "manifest.json" || zr.File[2].Name != "manifest.json.sig" {
				t.Errorf("first entries %s, %s, %s", zr.File[0].Name, zr.File[1].Name, zr.File[2].Name)
			}
		})
	}
}

// TestDeterministic: the same version of a collection gives the same bytes
// (a resumed download joins the same file); another version another ETag.
func TestDeterministic(t *testing.T) {
	s := spec(2, []int{1000, 2000}, true)
	b1, d1 := build(t, s)
	b2, d2 := build(t, s)
	if !bytes.Equal(d1, d2) || b1.ETag() != b2.ETag() {
		t.Fatal("two plans of the same spec differ")
	}
	s.Created = s.Created.Add(time.Second)
	b3, _ := build(t, s)
	if b3.ETag() == b1.ETag() {
		t.Error("another version has the same ETag")
	}
	s.Created = created
	s.Items[0].Files[0].SHA256 = strings.Repeat("0", 64)
	if b4, _ := bundle.Plan(s, signer(t)); b4.ETag() == b1.ETag() {
		t.Error("another file digest has the same ETag")
	}
}

// rezip rewrites a zip entry by entry (stored, CRC-32 recomputed, as a
// forger would), with edit changing an entry's bytes (nil drops it) and
// extra entries appended.
func rezip(t *testing.T, data []byte, edit func(name string, b []byte) []byte, extra map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	put := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		if edit != nil {
			b = edit(f.Name, b)
		}
		if b != nil {
			put(f.Name, b)
		}
	}
	for name, b := range extra {
		put(name, b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestVerifyRefuses(t *testing.T) {
	k, o := keys(t)
	s := spec(2, []int{3000, 10}, true)
	_, good := build(t, s)
	target := "02-seance-2/fichier-1.pdf"
	flip := func(name string, b []byte) []byte {
		if name == target {
			b = bytes.Clone(b)
			b[1234] ^= 1
		}
		return b
	}
	// The manifest changed to match the changed file: only the signature
	// tells.
	var forged []byte
	{
		tampered := rezip(t, good, flip, nil)
		zr, _ := zip.NewReader(bytes.NewReader(tampered), int64(len(tampered)))
		for _, f := range zr.File {
			if f.Name == target {
				rc, _ := f.Open()
				b, _ := io.ReadAll(rc)
				sum := sha256.Sum256(b)
				old := s.Items[1].Files[0].SHA256
				forged = rezip(t, tampered, func(name string, b []byte) []byte {
					if name == "manifest.json" {
						return bytes.Replace(b, []byte(old), []byte(hex.EncodeToString(sum[:])), 1)
					}
					return b
				}, nil)
			}
		}
	}
	// A byte changed in place: the CRC-32 in the headers no longer matches.
	inPlace := bytes.Clone(good)
	{
		zr, _ := zip.NewReader(bytes.NewReader(good), int64(len(good)))
		for _, f := range zr.File {
			if f.Name == target {
				off, _ := f.DataOffset()
				inPlace[off+10] ^= 0x80
			}
		}
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		pub      *rsa.PublicKey
		path, en string
	}{
		{"file byte changed", rezip(t, good, flip, nil), &k.PublicKey, target, "SHA-256"},
		{"file byte changed in place", inPlace, &k.PublicKey, target, "checksum"},
		{"manifest changed", forged, &k.PublicKey, "manifest.json.sig", "invalid signature"},
		{"wrong key", good, &o.PublicKey, "manifest.json.sig", "invalid signature"},
		{"extra file", rezip(t, good, nil, map[string][]byte{"01-seance-1/virus.exe": []byte("MZ")}), &k.PublicKey, "01-seance-1/virus.exe", "not in the manifest"},
		{"file missing", rezip(t, good, func(n string, b []byte) []byte {
			if n == target {
				return nil
			}
			return b
		}, nil), &k.PublicKey, target, "missing"},
		{"file truncated", rezip(t, good, func(n string, b []byte) []byte {
			if n == target {
				return b[:100]
			}
			return b
		}, nil), &k.PublicKey, target, "the manifest says 3000"},
		{"licence changed", rezip(t, good, func(n string, b []byte) []byte {
			if n == "LICENCE.txt" {
				return bytes.Replace(b, []byte("CC BY 4.0"), []byte("CC0 1.0  "), 1)
			}
			return b
		}, nil), &k.PublicKey, "LICENCE.txt", "SHA-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := verify(t, tc.data, tc.pub)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("verified")
			}
			found := false
			for _, p := range rep.Problems {
				found = found || (p.Path == tc.path && strings.Contains(p.EN, tc.en) && p.FR != "")
			}
			if !found {
				t.Errorf("problems %+v, want one about %s saying %q", rep.Problems, tc.path, tc.en)
			}
		})
	}
	// The untouched bundle still verifies: the cases above fail for their
	// change, not for the helper.
	if rep, err := verify(t, rezip(t, good, nil, nil), &k.PublicKey); err != nil || !rep.OK() {
		t.Fatalf("rezipped unchanged: %v %+v", err, rep)
	}
}

func TestPlanRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(s *bundle.Spec)
		want string
	}{
		{"zip-slip folder", func(s *bundle.Spec) { s.Items[0].Folder = ".." }, "folder name"},
		{"folder with a slash", func(s *bundle.Spec) { s.Items[0].Folder = "a/b" }, "folder name"},
		{"folder clash", func(s *bundle.Spec) { s.Items[1].Folder = strings.ToUpper(s.Items[0].Folder) }, "clashes"},
		{"folder named like the manifest", func(s *bundle.Spec) { s.Items[0].Folder = "Manifest.json" }, "clashes"},
		{"file with a slash", func(s *bundle.Spec) { s.Items[0].Files[0].Name = "../../etc/passwd" }, "must not contain /"},
		{"files clash", func(s *bundle.Spec) { s.Items[0].Files[1].Name = "FICHIER-1.pdf" }, "one file once unzipped"},
		{"bad digest", func(s *bundle.Spec) { s.Items[0].Files[0].SHA256 = "abc" }, "SHA-256"},
		{"negative size", func(s *bundle.Spec) { s.Items[0].Files[0].Size = -1 }, "negative"},
		{"no opener", func(s *bundle.Spec) { s.Items[0].Files[0].Open = nil }, "nothing to open"},
		{"same digest, another size", func(s *bundle.Spec) {
			s.Items[1].Files[1].SHA256 = s.Items[0].Files[0].SHA256
		}, "another file of the same SHA-256"},
		{"no version time", func(s *bundle.Spec) { s.Created = time.Time{} }, "no version time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spec(2, []int{10, 20}, true)
			tc.edit(&s)
			_, err := bundle.Plan(s, signer(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

// TestLicenceOneLine: a title with a line break cannot forge a line of
// LICENCE.txt.
func TestLicenceOneLine(t *testing.T) {
	s := spec(1, []int{1}, true)
	s.Items[0].Title = "Guide\n  Licence / License : CC0"
	_, data := build(t, s)
	zr, _ := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	rc, _ := zr.File[0].Open()
	lic, _ := io.ReadAll(rc)
	if strings.Contains(string(lic), "\n  Licence / License : CC0") {
		t.Fatalf("forged line:\n%s", lic)
	}
}

// TestSourceSizeChecked: a source holding other bytes than announced
// stops the download rather than giving a zip whose offsets are wrong.
func TestSourceSizeChecked(t *testing.T) {
	s := spec(1, []int{100}, true)
	data := randBytes(1, 99)
	s.Items[0].Files[0].Open = func(context.Context) (io.ReadCloser, error) { return sized{nopCloser{bytes.NewReader(data)}, 99}, nil }
	b, err := bundle.Plan(s, signer(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteTo(context.Background(), io.Discard); err == nil || !strings.Contains(err.Error(), "holds 99 bytes") {
		t.Fatalf("err %v", err)
	}
	// Without Size: the short read is found at its end.
	s.Items[0].Files[0].Open = func(context.Context) (io.ReadCloser, error) { return onlyReader{bytes.NewReader(data)}, nil }
	b, _ = bundle.Plan(s, signer(t))
	if _, err := b.WriteTo(context.Background(), io.Discard); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v", err)
	}
}

type sized struct {
	nopCloser
	n int64
}

func (s sized) Size() int64 { return s.n }

func TestSignerCachesAndChecks(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.NewRSASigner(small, keyID); err == nil {
		t.Error("a 1024-bit key signs")
	}
	if err := bundle.VerifySignature(&small.PublicKey, []byte("x"), nil); err == nil {
		t.Error("a 1024-bit key verifies")
	}
	s := signer(t)
	a, _ := s.Sign([]byte("manifest"))
	b, _ := s.Sign([]byte("manifest"))
	if !bytes.Equal(a, b) {
		t.Error("signatures differ")
	}
	k, err := bundle.ParsePublicKeyPEM([]byte(s.PublicKeyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	if err := bundle.VerifySignature(k, []byte("manifest"), a); err != nil {
		t.Error(err)
	}
}
