package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/bundle"
)

// TestBundleVerifyCLI runs `communs bundle verify` on bundles as a
// mediator would get them: intact, changed, with a wrong key, offline
// with the hub's PEM or online from its actor.
func TestBundleVerifyCLI(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var published atomic.Value // the key id the actor publishes
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	keyID := srv.URL + "/actor#main-key"
	published.Store(keyID)
	signer, err := bundle.NewRSASigner(key, keyID)
	if err != nil {
		t.Fatal(err)
	}
	mux.HandleFunc("/actor", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/activity+json")
		json.NewEncoder(w).Encode(map[string]any{"id": srv.URL + "/actor", "type": "Organization",
			"publicKey": map[string]any{"id": published.Load(), "owner": srv.URL + "/actor", "publicKeyPem": signer.PublicKeyPEM()}})
	})

	file := func(name, content string) bundle.File {
		b := []byte(content)
		sum := sha256.Sum256(b)
		return bundle.File{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:]), CRC32: crc32.ChecksumIEEE(b),
			Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
	}
	spec := bundle.Spec{Hub: bundle.Hub{Name: "Hub du Sud", URL: srv.URL + "/"}, Title: "Premiers pas", URL: srv.URL + "/collections/premiers-pas",
		Created: time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC), Items: []bundle.Item{
			{Folder: "01-adresse-email", Title: "Créer son adresse e-mail", AttributionLine: "« Créer son adresse e-mail » par Les Tilleuls, CC BY 4.0",
				License: "CC-BY-4.0", Files: []bundle.File{file("guide.pdf", strings.Repeat("%PDF guide ", 500)), file("fiche.odt", "fiche")}},
			{Folder: "02-smartphone", Title: "Prendre en main un smartphone", AttributionLine: "« Smartphone » par Hub du Sud, CC BY-SA 4.0",
				License: "CC-BY-SA-4.0", Files: []bundle.File{file("diaporama.odp", strings.Repeat("diapo ", 300))}},
		}}
	b, err := bundle.Plan(spec, signer)
	if err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	if _, err := b.WriteTo(context.Background(), &good); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pemOf := func(k *rsa.PrivateKey) []byte {
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	hubPEM, otherPEM := write("hub.pem", pemOf(key)), write("autre.pem", pemOf(otherKey))
	okZip := write("premiers-pas.zip", good.Bytes())
	changed := write("modifie.zip", rezipCLI(t, good.Bytes(), func(name string, b []byte) []byte {
		if name == "02-smartphone/diaporama.odp" {
			b = bytes.Clone(b)
			b[5] = 'X'
		}
		return b
	}, nil))
	extra := write("extra.zip", rezipCLI(t, good.Bytes(), nil, map[string][]byte{"01-adresse-email/lisez-moi.exe": []byte("MZ")}))
	slip := write("slip.zip", rezipCLI(t, good.Bytes(), nil, map[string][]byte{"../../.bashrc": []byte("rm -rf ~")}))
	noSig := write("sans-signature.zip", rezipCLI(t, good.Bytes(), func(name string, b []byte) []byte {
		if name == "manifest.json.sig" {
			return nil
		}
		return b
	}, nil))
	notZip := write("pas-un-zip.zip", []byte("bonjour"))
	// The same bundle unzipped on a Mac's USB stick, and a copy with one
	// byte changed.
	unzipped, changedDir := filepath.Join(dir, "cle-usb", "premiers-pas"), filepath.Join(dir, "modifie")
	unzipCLI(t, good.Bytes(), unzipped)
	os.WriteFile(filepath.Join(unzipped, ".DS_Store"), []byte("x"), 0o644)
	unzipCLI(t, good.Bytes(), changedDir)
	os.WriteFile(filepath.Join(changedDir, "01-adresse-email", "fiche.odt"), []byte("fichX"), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		ok   bool
		want []string
	}{
		{"offline with the hub's key", []string{okZip, "--key", hubPEM}, true, []string{"Paquet vérifié : 4 fichiers intacts", "Bundle verified: 4 files intact", "Hub : Hub du Sud", "Collection : Premiers pas"}},
		{"online from the actor", []string{okZip, "--actor", srv.URL + "/actor"}, true, []string{"Paquet vérifié", "manifest signed by key " + keyID}},
		{"a byte changed", []string{changed, "--key", hubPEM}, false, []string{"ÉCHEC  02-smartphone/diaporama.odp : contenu modifié", "FAILED 02-smartphone/diaporama.odp: content changed", "bundle NOT verified"}},
		{"another hub's key", []string{okZip, "--key", otherPEM}, false, []string{"ÉCHEC  manifest.json.sig : signature invalide", "FAILED manifest.json.sig: invalid signature"}},
		{"a file added", []string{extra, "--key", hubPEM}, false, []string{"01-adresse-email/lisez-moi.exe: file not in the manifest"}},
		{"zip-slip", []string{slip, "--key", hubPEM}, false, []string{"../../.bashrc: path not allowed"}},
		{"no signature", []string{noSig, "--key", hubPEM}, false, []string{"manifest.json.sig : absent", "manifest.json.sig: missing"}},
		{"not a zip", []string{notZip, "--key", hubPEM}, false, []string{"ce n'est pas un fichier zip lisible", "not a readable zip file"}},
		{"no key given", []string{okZip}, false, []string{"--actor " + srv.URL + "/actor", "--key"}},
		{"both keys given", []string{okZip, "--key", hubPEM, "--actor", srv.URL + "/actor"}, false, []string{"not both"}},
		{"flags first", []string{"--key", hubPEM, okZip}, true, []string{"Paquet vérifié"}},
		{"unzipped folder", []string{unzipped, "--key", hubPEM}, true, []string{"Paquet vérifié : 4 fichiers intacts", "system files left aside: 1 (.DS_Store)"}},
		{"unzipped folder changed", []string{changedDir, "--key", hubPEM}, false, []string{"FAILED 01-adresse-email/fiche.odt: content changed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, nil, append([]string{"bundle", "verify"}, tc.args...)...)
			t.Logf("communs bundle verify %s\n%s", strings.Join(tc.args, " "), out)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v\n%s", err, tc.ok, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "panic") {
				t.Errorf("panic:\n%s", out)
			}
		})
	}
	// The actor now publishes another key id (a rotated key): the bundle
	// names the old one, and the command says so.
	published.Store(srv.URL + "/actor#key-2")
	out, err := run(t, nil, "bundle", "verify", okZip, "--actor", srv.URL+"/actor")
	if err == nil || !strings.Contains(out, "publishes key") {
		t.Fatalf("rotated key: err %v\n%s", err, out)
	}
}

// rezipCLI rewrites a zip (stored, CRC-32 recomputed, as a forger would):
// edit changes an entry's bytes (nil drops it), extra entries are added.
func rezipCLI(t *testing.T, data []byte, edit func(string, []byte) []byte, extra map[string][]byte) []byte {
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

// unzipCLI extracts a zip into dir, as an archive tool would.
func unzipCLI(t *testing.T, data []byte, dir string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
