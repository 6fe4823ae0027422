package web_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// multipartPublish sends the API's multipart publish with one file part
// whose Content-Disposition carries name as given.
func multipartPublish(t *testing.T, n *testnode.Node, id, name string) (*http.Response, errBody) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	meta, _ := mw.CreateFormField("resource")
	fmt.Fprintf(meta, `{"id":%q,"title":"Fiche","kind":"practical-sheet","license":"CC0-1.0"}`, id)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", "application/pdf")
	fw, _ := mw.CreatePart(h)
	fw.Write([]byte("%PDF-1.7 evil"))
	mw.Close()
	var out errBody
	resp := call(t, "POST", n.URL+"/api/v1/resources", n.Token, mw.FormDataContentType(), &buf, &out)
	return resp, out
}

// TestOneFileNameRuleOnEveryRoute: a name with a path in it is refused the
// same way (400 naming the rule) by the API multipart upload, PUT and the
// editor form; before, the multipart routes kept its base name and stored
// "../../evil.pdf" as "evil.pdf".
func TestOneFileNameRuleOnEveryRoute(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	ctx := context.Background()
	const rule = "must not contain / or \\"
	for _, name := range []string{"../../evil.pdf", "sous-dossier/evil.pdf", `C:\\Users\\evil.pdf`} {
		resp, out := multipartPublish(t, n, "fiche-multipart", name)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out.Error.Message, rule) {
			t.Errorf("API multipart %q: %d %+v, want 400 with %q", name, resp.StatusCode, out, rule)
		}
	}
	if _, err := n.Service.Get(ctx, "fiche-multipart"); err == nil {
		t.Fatal("a refused multipart publish is visible")
	}
	// The other rules of the domain, through the multipart route too.
	for name, want := range map[string]string{"CON.pdf": "Windows reserves", "LICENCE.txt": "LICENCE.txt is reserved", "a\u202Efdp.exe": "invisible formatting", "a\u2215b.pdf": "look like /"} {
		resp, out := multipartPublish(t, n, "fiche-multipart", name)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out.Error.Message, want) {
			t.Errorf("API multipart %q: %d %+v, want 400 with %q", name, resp.StatusCode, out, want)
		}
	}

	id := publish(t, n, kitJSON)["id"].(string)
	var out errBody
	resp := call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/"+url.PathEscape("../../evil.pdf"), n.Token, "", strings.NewReader("x"), &out)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out.Error.Message, rule) {
		t.Errorf("PUT ../../evil.pdf: %d %+v, want 400 with %q", resp.StatusCode, out, rule)
	}
	resp = call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/guide.pdf", n.Token, "", strings.NewReader("x"), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT guide.pdf: %d", resp.StatusCode)
	}
	out = errBody{}
	resp = call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/Guide.PDF", n.Token, "", strings.NewReader("y"), &out)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(out.Error.Message, "differ only by case") {
		t.Errorf("PUT Guide.PDF beside guide.pdf: %d %+v", resp.StatusCode, out)
	}

	// The editor form: same name, same refusal, nothing stored.
	if err := n.Service.SetPassword(ctx, "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, n.URL)
	_, body := b.get("/connexion")
	b.postForm("/connexion", url.Values{"csrf": {csrfOf(t, body)}, "name": {"editor"}, "password": {"un-mot-de-passe-solide"}})
	_, body = b.get("/editeur/r/" + id)
	token := csrfOf(t, body)
	resp, body = b.postMultipart("/editeur/r/"+id+"/fichiers", [][2]string{{"csrf", token}}, map[string][]byte{"../../evil.pdf": []byte("%PDF-1.7 evil")})
	wantStatus(t, "editor upload of ../../evil.pdf", resp, body, http.StatusBadRequest)
	wantIn(t, "editor upload of ../../evil.pdf", body, `id="e-file"`, "sans / ni \\", "nom réservé par Windows")
	res, _ := n.Service.Get(ctx, id)
	for _, f := range res.Files {
		if strings.Contains(f.Name, "evil") {
			t.Fatalf("the editor form stored %q", f.Name)
		}
	}
}

// TestZipHoldsNoTwoEntriesDifferingByCase: a resource stored before the
// name rule, with a file named like the zip's generated LICENCE.txt, gives
// a zip with one LICENCE.txt (the notice) and the clashing file listed in
// it; before, the zip held two LICENCE.txt entries.
func TestZipHoldsNoTwoEntriesDifferingByCase(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	ctx := context.Background()
	id := publish(t, n, kitJSON)["id"].(string)
	resp := call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/guide.pdf", n.Token, "", strings.NewReader("%PDF-1.7"), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", resp.StatusCode)
	}
	// Write the old data directly: the service would refuse these names now.
	old := []byte("a licence file written by the authors")
	bl, err := n.Blobs.Put(ctx, bytes.NewReader(old), "")
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = n.Catalog.Update(ctx, id, func(r *node.Resource) error {
		r.Files = append(r.Files,
			node.File{Name: "LICENCE.txt", MediaType: "text/plain", Size: bl.Size, SHA256: bl.SHA256, Added: time.Now()},
			node.File{Name: "Guide.pdf", MediaType: "application/pdf", Size: bl.Size, SHA256: bl.SHA256, Added: time.Now()})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	resp = call(t, "GET", n.URL+"/r/"+id+".zip", "", "", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("zip: %v", err)
	}
	seen := map[string]string{}
	for _, zf := range zr.File {
		k := strings.ToLower(zf.Name)
		if prev, ok := seen[k]; ok {
			t.Errorf("zip holds %q and %q", prev, zf.Name)
		}
		seen[k] = zf.Name
		if zf.Name == "LICENCE.txt" {
			rc, _ := zf.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			if !strings.Contains(string(b), "Attribution") || !strings.Contains(string(b), "LICENCE.txt : "+n.URL+"/r/"+id+"/files/LICENCE.txt") {
				t.Errorf("LICENCE.txt is not the notice listing the clashing file:\n%s", b)
			}
		}
	}
	if seen["guide.pdf"] != "guide.pdf" || seen["licence.txt"] != "LICENCE.txt" || seen["resource.json"] == "" {
		t.Errorf("zip entries %v", seen)
	}
}
