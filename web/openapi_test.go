package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/apitest"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/search"
	"github.com/communs-numerique/communs/web"
	"github.com/communs-numerique/communs/web/openapi"
)

// apiRoute maps a pattern of the router to the operation of the document
// that describes it, or "" when the pattern is not part of the API.
func apiRoute(pattern string) string {
	method, path, _ := strings.Cut(pattern, " ")
	switch {
	case pattern == "GET /api/v1/":
		return "" // the catch-all that answers unknown API paths with a JSON 404
	case pattern == "GET /r/{id}":
		// The resource's HTML page, and the kit's zip when the id ends in .zip.
		return "GET /r/{id}.zip"
	case strings.HasPrefix(path, "/api/"), strings.HasPrefix(path, "/r/"):
		return method + " " + path
	}
	return ""
}

// TestOpenAPIDescribesEveryRoute: every API route the server registers has
// an operation in the OpenAPI document, and every operation of the document
// is a registered route. A route added without its description fails here.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	v := apitest.New(t, openapi.Document())
	documented := apitest.Operations(v.Doc)
	var registered []string
	for _, p := range web.New(nil, web.Options{PublicURL: "https://hub.example"}).RoutePatterns() {
		if op := apiRoute(p); op != "" && !slices.Contains(registered, op) {
			registered = append(registered, op)
		}
	}
	for _, op := range registered {
		if !slices.Contains(documented, op) {
			t.Errorf("route %s is not described in web/openapi/openapi.json", op)
		}
	}
	for _, op := range documented {
		// Go's ServeMux answers HEAD on every GET pattern.
		if head, ok := strings.CutPrefix(op, "HEAD "); ok && slices.Contains(registered, "GET "+head) {
			continue
		}
		if !slices.Contains(registered, op) {
			t.Errorf("the OpenAPI document describes %s, which the router does not register", op)
		}
	}
	if len(registered) < 10 {
		t.Fatalf("only %d API routes found: %v", len(registered), registered)
	}
}

// TestOpenAPIServed: the node serves the document as JSON with its own URL
// in servers, with cache headers, and revalidates with the ETag.
func TestOpenAPIServed(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	v := apitest.New(t, openapi.Document())
	c := v.Client()
	resp, body := send(t, c, "GET", n.URL+"/api/v1/openapi.json", nil, "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Cache-Control") == "" || resp.Header.Get("ETag") == "" {
		t.Fatalf("openapi.json without cache headers: %v", resp.Header)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Servers) != 1 || doc.Servers[0].URL != n.URL {
		t.Fatalf("served document: openapi %q servers %+v, want 3.1.0 and %s", doc.OpenAPI, doc.Servers, n.URL)
	}
	apitest.New(t, body) // the served document loads and validates too
	resp, _ = send(t, c, "GET", n.URL+"/api/v1/openapi.json", nil, "", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d, want 304", resp.StatusCode)
	}
}

// validatedClient is the client of the API tests (call): every exchange
// with a documented route is validated against the OpenAPI document.
func validatedClient(t *testing.T) *http.Client {
	v := apitest.New(t, openapi.Document())
	v.Lenient = true
	return &http.Client{Transport: v}
}

// send makes one request through c and returns the answer and its body.
func send(t *testing.T, c *http.Client, method, url string, body []byte, token string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, data
}

// TestAPIFollowsOpenAPI exercises every documented operation, its success
// and its main refusals, on a real node, every exchange validated against
// the document the node serves.
func TestAPIFollowsOpenAPI(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true, MaxFileSize: 64 << 10, Hub: "hub-test"})
	_, served := send(t, http.DefaultClient, "GET", n.URL+"/api/v1/openapi.json", nil, "", nil)
	v := apitest.New(t, served)
	c := v.Client()
	api := n.URL + "/api/v1"
	jsonCT := map[string]string{"Content-Type": "application/json"}

	// expect sends one request and checks the status and, for errors, the code.
	expect := func(name string, status int, code, method, url string, body []byte, token string, header map[string]string) []byte {
		t.Helper()
		resp, data := send(t, c, method, url, body, token, header)
		if resp.StatusCode != status {
			t.Errorf("%s: %s %s -> %d, want %d: %s", name, method, url, resp.StatusCode, status, data)
			return data
		}
		if code != "" {
			var e errBody
			if err := json.Unmarshal(data, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
				t.Errorf("%s: error %s, want code %q and a message", name, data, code)
			}
		}
		return data
	}

	expect("licences", 200, "", "GET", api+"/licenses", nil, "", nil)

	// Publish, JSON then multipart.
	var res map[string]any
	json.Unmarshal(expect("publish", 201, "", "POST", api+"/resources", []byte(kitJSON), n.Token, jsonCT), &res)
	id, _ := res["id"].(string)
	if id == "" {
		t.Fatalf("publish gave no id: %v", res)
	}
	expect("publish without token", 401, "unauthorized", "POST", api+"/resources", []byte(kitJSON), "", jsonCT)
	expect("publish with an unknown token", 401, "unauthorized", "POST", api+"/resources", []byte(kitJSON), "not-a-token", jsonCT)
	expect("publish an existing id", 409, "conflict", "POST", api+"/resources", []byte(`{"id":"`+id+`","title":"Autre","kind":"tutorial","license":"CC-BY-4.0"}`), n.Token, jsonCT)
	expect("replace", 201, "", "POST", api+"/resources?replace=true", []byte(`{"id":"`+id+`","title":"Créer sa première adresse e-mail","kind":"tutorial","license":"CC-BY-SA-4.0","themes":["messagerie"]}`), n.Token, jsonCT)
	expect("publish broken JSON", 400, "bad_request", "POST", api+"/resources", []byte(`{"title":`), n.Token, jsonCT)
	expect("publish an unknown field", 400, "bad_request", "POST", api+"/resources", []byte(`{"title":"X","kind":"tutorial","license":"CC-BY-4.0","colour":"blue"}`), n.Token, jsonCT)
	expect("publish an unknown kind", 400, "invalid", "POST", api+"/resources", []byte(`{"title":"X","kind":"poem","license":"CC-BY-4.0"}`), n.Token, jsonCT)
	expect("publish a refused licence", 400, "license_refused", "POST", api+"/resources", []byte(`{"title":"X","kind":"tutorial","license":"CC-BY-NC-4.0"}`), n.Token, jsonCT)
	expect("publish as text", 415, "unsupported_media_type", "POST", api+"/resources", []byte(kitJSON), n.Token, map[string]string{"Content-Type": "text/plain"})
	big := []byte(`{"title":"X","kind":"tutorial","license":"CC-BY-4.0","description":"` + strings.Repeat("a", 1<<20) + `"}`)
	expect("publish more than 1 MiB of metadata", 413, "too_large", "POST", api+"/resources", big, n.Token, jsonCT)

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="resource"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write([]byte(`{"title":"Atelier smartphone","kind":"workshop-kit","license":"etalab-2.0","audience":["seniors"]}`))
	fw, _ := mw.CreateFormFile("file", "fiche.txt")
	fw.Write([]byte("Allumer le téléphone."))
	mw.Close()
	var kit map[string]any
	json.Unmarshal(expect("publish multipart", 201, "", "POST", api+"/resources", mp.Bytes(), n.Token, map[string]string{"Content-Type": mw.FormDataContentType()}), &kit)
	if files, _ := kit["files"].([]any); len(files) != 1 {
		t.Errorf("multipart publish: files %v", kit["files"])
	}

	// A resource received from a peer hub, its file left at the origin.
	origin := "https://autre-hub.example/ap/objects/atelier"
	remote, err := n.Service.SaveRemote(t.Context(), node.Resource{ID: node.RemoteID(origin, "atelier-visio"), Metadata: node.Metadata{Title: "Atelier visio",
		Kind: "tutorial", License: "CC-BY-4.0", Hub: "autre-hub"}, Origin: origin},
		[]node.RemoteFile{{Name: "guide.pdf", MediaType: "application/pdf", Size: 10, SHA256: strings.Repeat("ab", 32), URL: "https://autre-hub.example/r/atelier/files/guide.pdf"}}, node.Mirror{})
	if err != nil {
		t.Fatalf("save remote: %v", err)
	}

	// Read.
	expect("list", 200, "", "GET", api+"/resources?limit=1", nil, "", nil)
	expect("list remote", 200, "", "GET", api+"/resources?origin=remote", nil, "", nil)
	expect("list local, page 2", 200, "", "GET", api+"/resources?origin=local&limit=1&cursor="+id, nil, "", nil)
	expect("list a bad origin", 400, "invalid", "GET", api+"/resources?origin=elsewhere", nil, "", nil)
	expect("get", 200, "", "GET", api+"/resources/"+id, nil, "", nil)
	expect("get remote", 200, "", "GET", api+"/resources/"+remote.ID, nil, "", nil)
	expect("get unknown", 404, "not_found", "GET", api+"/resources/nulle-part", nil, "", nil)
	expect("report", 202, "", "POST", api+"/resources/"+id+"/reports", []byte(`{"reason":"outdated","message":"Captures de 2019.","contact":"ana@exemple.fr"}`), "", jsonCT)
	expect("report a bad reason", 400, "invalid", "POST", api+"/resources/"+id+"/reports", []byte(`{"reason":"spam"}`), "", jsonCT)
	expect("report unknown", 404, "not_found", "POST", api+"/resources/nulle-part/reports", []byte(`{"reason":"other"}`), "", jsonCT)
	expect("report as form", 415, "unsupported_media_type", "POST", api+"/resources/"+id+"/reports", []byte(`reason=other`), "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	expect("adapt", 201, "", "POST", api+"/resources/"+id+"/adapt", []byte(`{"title":"Adresse e-mail, version séniors"}`), n.Token, jsonCT)
	expect("adapt a copy whose file stays at its origin", 409, "conflict", "POST", api+"/resources/"+remote.ID+"/adapt", nil, n.Token, nil)
	expect("adapt unknown", 404, "not_found", "POST", api+"/resources/nulle-part/adapt", nil, n.Token, nil)
	expect("adapt without token", 401, "unauthorized", "POST", api+"/resources/"+id+"/adapt", nil, "", nil)
	expect("adapt with an unknown field", 400, "bad_request", "POST", api+"/resources/"+id+"/adapt", []byte(`{"titre":"X"}`), n.Token, jsonCT)

	// Change.
	expect("patch", 200, "", "PATCH", api+"/resources/"+id, []byte(`{"summary":"Pas à pas, en 10 minutes.","level":"debutant","hub":null}`), n.Token, jsonCT)
	expect("patch an unknown field", 400, "bad_request", "PATCH", api+"/resources/"+id, []byte(`{"titel":"X"}`), n.Token, jsonCT)
	expect("patch a bad level", 400, "invalid", "PATCH", api+"/resources/"+id, []byte(`{"level":"expert"}`), n.Token, jsonCT)
	expect("history", 200, "", "GET", api+"/resources/"+id+"/history?limit=1", nil, "", nil)
	expect("history of a copy", 200, "", "GET", api+"/resources/"+remote.ID+"/history", nil, "", nil)
	expect("history unknown", 404, "not_found", "GET", api+"/resources/nulle-part/history", nil, "", nil)
	expect("history with a forged cursor", 400, "invalid", "GET", api+"/resources/"+id+"/history?cursor=AAAA", nil, "", nil)
	expect("patch without token", 401, "unauthorized", "PATCH", api+"/resources/"+id, []byte(`{"summary":"X"}`), "", jsonCT)
	expect("patch a peer's resource", 403, "forbidden", "PATCH", api+"/resources/"+remote.ID, []byte(`{"summary":"X"}`), n.Token, jsonCT)
	expect("patch unknown", 404, "not_found", "PATCH", api+"/resources/nulle-part", []byte(`{"summary":"X"}`), n.Token, jsonCT)
	expect("patch as form", 415, "unsupported_media_type", "PATCH", api+"/resources/"+id, []byte(`summary=X`), n.Token, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})

	// Files.
	pdf := []byte("%PDF-1.7 guide de l'atelier, version imprimable")
	expect("put file", 201, "", "PUT", api+"/resources/"+id+"/files/guide%20atelier.pdf", pdf, n.Token, map[string]string{"Content-Type": "application/pdf", "X-Sha256": sha(pdf)})
	expect("put a file with a wrong digest", 400, "digest_mismatch", "PUT", api+"/resources/"+id+"/files/autre.pdf", pdf, n.Token, map[string]string{"Content-Type": "application/pdf", "X-Sha256": strings.Repeat("0", 64)})
	expect("put a dot file", 400, "invalid", "PUT", api+"/resources/"+id+"/files/.cache", pdf, n.Token, map[string]string{"Content-Type": "application/octet-stream"})
	expect("put without token", 401, "unauthorized", "PUT", api+"/resources/"+id+"/files/x.pdf", pdf, "", map[string]string{"Content-Type": "application/pdf"})
	expect("put on a peer's resource", 403, "forbidden", "PUT", api+"/resources/"+remote.ID+"/files/x.pdf", pdf, n.Token, map[string]string{"Content-Type": "application/pdf"})
	expect("put on unknown", 404, "not_found", "PUT", api+"/resources/nulle-part/files/x.pdf", pdf, n.Token, map[string]string{"Content-Type": "application/pdf"})
	expect("put too large", 413, "too_large", "PUT", api+"/resources/"+id+"/files/gros.bin", make([]byte, 65<<10), n.Token, map[string]string{"Content-Type": "application/octet-stream"})
	expect("put a form", 415, "unsupported_media_type", "PUT", api+"/resources/"+id+"/files/x.pdf", pdf, n.Token, map[string]string{"Content-Type": "multipart/form-data; boundary=x"})

	// Downloads.
	file := n.URL + "/r/" + id + "/files/guide%20atelier.pdf"
	expect("download", 200, "", "GET", file, nil, "", nil)
	expect("download a range", 206, "", "GET", file, nil, "", map[string]string{"Range": "bytes=0-3"})
	expect("download, unchanged", 304, "", "GET", file, nil, "", map[string]string{"If-None-Match": `"` + sha(pdf) + `"`})
	expect("download a range past the end", 416, "", "GET", file, nil, "", map[string]string{"Range": "bytes=9999-"})
	expect("download a peer's file", 302, "", "GET", n.URL+"/r/"+remote.ID+"/files/guide.pdf", nil, "", nil)
	expect("download unknown", 404, "not_found", "GET", n.URL+"/r/"+id+"/files/absent.pdf", nil, "", nil)
	expect("download unknown, browser", 404, "", "GET", n.URL+"/r/"+id+"/files/absent.pdf", nil, "", map[string]string{"Accept": "text/html"})
	resp, _ := send(t, c, "GET", n.URL+"/r/"+id+".zip", nil, "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("zip: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	expect("zip, unchanged", 304, "", "GET", n.URL+"/r/"+id+".zip", nil, "", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	expect("zip unknown", 404, "not_found", "GET", n.URL+"/r/nulle-part.zip", nil, "", nil)
	expect("head file", 200, "", "HEAD", file, nil, "", nil)
	expect("head file, unchanged", 304, "", "HEAD", file, nil, "", map[string]string{"If-None-Match": `"` + sha(pdf) + `"`})
	expect("head a peer's file", 302, "", "HEAD", n.URL+"/r/"+remote.ID+"/files/guide.pdf", nil, "", nil)
	expect("head unknown file", 404, "", "HEAD", n.URL+"/r/"+id+"/files/absent.pdf", nil, "", nil)
	expect("head zip", 200, "", "HEAD", n.URL+"/r/"+id+".zip", nil, "", nil)
	expect("head zip, unchanged", 304, "", "HEAD", n.URL+"/r/"+id+".zip", nil, "", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	expect("head unknown zip", 404, "", "HEAD", n.URL+"/r/nulle-part.zip", nil, "", nil)

	// Search, once the indexer has caught up.
	testenv.Eventually(t, 5*time.Second, "the kits indexed", func() bool {
		st, err := n.Indexer.Status(t.Context())
		return err == nil && st.Backlog == 0 && st.Documents >= 3
	})
	var found web.SearchJSON
	json.Unmarshal(expect("search", 200, "", "GET", api+"/search?q=adresse&kind=tutorial&kind=workshop-kit&theme=messagerie&sort=relevance&page=1&per_page=5", nil, "", nil), &found)
	if found.Total == 0 {
		t.Errorf("search found nothing: %+v", found)
	}
	expect("browse", 200, "", "GET", api+"/search?sort=newest", nil, "", nil)
	// per_page=0 and page=0 are left out: the node reads 0 as "not given"
	// and answers the default page, while the document says 1..100 and 1..1000.
	for _, bad := range []string{"per_page=101", "page=1001", "page=abc", "sort=oldest", "colour=blue", "q=" + strings.Repeat("a", 501)} {
		expect("search "+bad, 400, "invalid", "GET", api+"/search?"+bad, nil, "", nil)
	}

	// Collections.
	kitID, _ := kit["id"].(string)
	col := []byte(`{"title":"Parcours messagerie","summary":"Trois séances.","description":"**Pour** débuter.","items":[{"resource":"` + id + `","note":"Séance 1"},{"resource":"` + kitID + `"},{"resource":"` + remote.ID + `","note":"Séance 3 : en visio"}]}`)
	var created web.CollectionJSON
	json.Unmarshal(expect("create collection", 201, "", "POST", api+"/collections", col, n.Token, jsonCT), &created)
	if created.ID == "" || len(created.Items) != 3 || created.Items[2].Title != "Atelier visio" {
		t.Errorf("created collection: %+v", created)
	}
	cid := created.ID
	expect("create collection again", 409, "conflict", "POST", api+"/collections", []byte(`{"id":"`+cid+`","title":"Autre","items":[]}`), n.Token, jsonCT)
	expect("create collection without token", 401, "unauthorized", "POST", api+"/collections", col, "", jsonCT)
	expect("create collection of an unknown resource", 400, "invalid", "POST", api+"/collections", []byte(`{"title":"X","items":[{"resource":"nulle-part"}]}`), n.Token, jsonCT)
	expect("create collection with an unknown field", 400, "bad_request", "POST", api+"/collections", []byte(`{"title":"X","items":[],"colour":"blue"}`), n.Token, jsonCT)
	expect("create collection as text", 415, "unsupported_media_type", "POST", api+"/collections", col, n.Token, map[string]string{"Content-Type": "text/plain"})
	expect("create collection too large", 413, "too_large", "POST", api+"/collections", big, n.Token, jsonCT)
	expect("create collection for another organisation", 403, "forbidden", "POST", api+"/collections", []byte(`{"title":"X","items":[],"organisation":"inconnue"}`), n.Token, jsonCT)
	expect("list collections", 200, "", "GET", api+"/collections?limit=1&origin=local", nil, "", nil)
	expect("list collections, bad origin", 400, "invalid", "GET", api+"/collections?origin=elsewhere", nil, "", nil)
	expect("get collection", 200, "", "GET", api+"/collections/"+cid, nil, "", nil)
	expect("get unknown collection", 404, "not_found", "GET", api+"/collections/nulle-part", nil, "", nil)
	expect("patch collection", 200, "", "PATCH", api+"/collections/"+cid, []byte(`{"items":[{"resource":"`+kitID+`"},{"resource":"`+id+`","note":"Séance 2"}]}`), n.Token, jsonCT)
	expect("patch collection, bad item", 400, "invalid", "PATCH", api+"/collections/"+cid, []byte(`{"items":[{"resource":"nulle-part"}]}`), n.Token, jsonCT)
	expect("patch collection without token", 401, "unauthorized", "PATCH", api+"/collections/"+cid, []byte(`{"title":"X"}`), "", jsonCT)
	expect("patch collection for an unknown organisation", 400, "invalid", "PATCH", api+"/collections/"+cid, []byte(`{"organisation":"inconnue"}`), n.Token, jsonCT)
	expect("patch unknown collection", 404, "not_found", "PATCH", api+"/collections/nulle-part", []byte(`{"title":"X"}`), n.Token, jsonCT)
	expect("patch collection too large", 413, "too_large", "PATCH", api+"/collections/"+cid, big, n.Token, jsonCT)
	expect("patch collection as form", 415, "unsupported_media_type", "PATCH", api+"/collections/"+cid, []byte(`title=X`), n.Token, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	var colHits web.CollectionSearchJSON
	json.Unmarshal(expect("search collections", 200, "", "GET", api+"/search?type=collection&q=messagerie", nil, "", nil), &colHits)
	if colHits.Total != 1 || len(colHits.Hits) != 1 || colHits.Hits[0].ID != cid {
		t.Errorf("search type=collection: %+v", colHits)
	}
	expect("search collections with a filter", 400, "invalid", "GET", api+"/search?type=collection&kind=tutorial", nil, "", nil)
	expect("search an unknown type", 400, "invalid", "GET", api+"/search?type=person", nil, "", nil)
	expect("delete collection without token", 401, "unauthorized", "DELETE", api+"/collections/"+cid, nil, "", nil)
	expect("delete collection", 204, "", "DELETE", api+"/collections/"+cid, nil, n.Token, nil)
	expect("delete collection again", 404, "not_found", "DELETE", api+"/collections/"+cid, nil, n.Token, nil)

	// Delete.
	expect("delete file", 204, "", "DELETE", api+"/resources/"+id+"/files/guide%20atelier.pdf", nil, n.Token, nil)
	expect("delete absent file", 404, "not_found", "DELETE", api+"/resources/"+id+"/files/guide%20atelier.pdf", nil, n.Token, nil)
	expect("delete file without token", 401, "unauthorized", "DELETE", api+"/resources/"+id+"/files/x.pdf", nil, "", nil)
	expect("delete a peer's file", 403, "forbidden", "DELETE", api+"/resources/"+remote.ID+"/files/guide.pdf", nil, n.Token, nil)
	// Shares (share_test.go's fakeSharer stands for the federation).
	expect("share without federation", 409, "conflict", "POST", api+"/resources/"+remote.ID+"/share", nil, n.Token, nil)
	n.Service.SetSharer(&fakeSharer{shares: map[string]node.Share{}})
	expect("share without token", 401, "unauthorized", "POST", api+"/resources/"+remote.ID+"/share", nil, "", nil)
	expect("share a local resource", 409, "conflict", "POST", api+"/resources/"+id+"/share", nil, n.Token, nil)
	expect("share", 200, "", "POST", api+"/resources/"+remote.ID+"/share", nil, n.Token, nil)
	expect("undo share", 204, "", "DELETE", api+"/resources/"+remote.ID+"/share", nil, n.Token, nil)
	expect("undo share again", 404, "not_found", "DELETE", api+"/resources/"+remote.ID+"/share", nil, n.Token, nil)
	remoteCol, err := n.Service.SaveRemoteCollection(context.Background(), node.Collection{ID: "parcours", Origin: "https://hub-a.example/collections/parcours", Title: "Parcours", Hub: "hub-a"})
	if err != nil {
		t.Fatal(err)
	}
	localCol, err := n.Service.CreateCollection(context.Background(), node.Collection{Title: "Collection locale"})
	if err != nil {
		t.Fatal(err)
	}
	n.Service.SetSharer(fakeCollectionSharer{&fakeSharer{shares: map[string]node.Share{}}})
	expect("share collection without token", 401, "unauthorized", "POST", api+"/collections/"+remoteCol.ID+"/share", nil, "", nil)
	expect("share a local collection", 409, "conflict", "POST", api+"/collections/"+localCol.ID+"/share", nil, n.Token, nil)
	expect("share collection", 200, "", "POST", api+"/collections/"+remoteCol.ID+"/share", nil, n.Token, nil)
	expect("undo collection share", 204, "", "DELETE", api+"/collections/"+remoteCol.ID+"/share", nil, n.Token, nil)
	expect("undo collection share again", 404, "not_found", "DELETE", api+"/collections/"+remoteCol.ID+"/share", nil, n.Token, nil)

	expect("delete without token", 401, "unauthorized", "DELETE", api+"/resources/"+id, nil, "", nil)
	expect("delete", 204, "", "DELETE", api+"/resources/"+id, nil, n.Token, nil)
	expect("delete again", 404, "not_found", "DELETE", api+"/resources/"+id, nil, n.Token, nil)

	// Organisations.
	_, adminTok, err := n.Service.AddUser(context.Background(), "root", node.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	orgJSON := []byte(`{"slug":"tilleuls","name":"Centre social Les Tilleuls","url":"https://tilleuls.example.org","description":"Ateliers du quartier."}`)
	expect("add organisation", 201, "", "POST", api+"/organisations", orgJSON, adminTok, jsonCT)
	expect("add organisation again", 409, "conflict", "POST", api+"/organisations", orgJSON, adminTok, jsonCT)
	expect("add organisation as editor", 403, "forbidden", "POST", api+"/organisations", orgJSON, n.Token, jsonCT)
	expect("add organisation without token", 401, "unauthorized", "POST", api+"/organisations", orgJSON, "", jsonCT)
	expect("add organisation with a bad slug", 400, "invalid", "POST", api+"/organisations", []byte(`{"slug":"Les Tilleuls","name":"x"}`), adminTok, jsonCT)
	expect("list organisations", 200, "", "GET", api+"/organisations", nil, "", nil)
	expect("unknown organisation", 404, "not_found", "GET", api+"/organisations/inconnue", nil, "", nil)
	owned := []byte(`{"id":"kit-des-tilleuls","title":"Kit des Tilleuls","kind":"tutorial","license":"CC-BY-SA-4.0","organisation":"tilleuls"}`)
	expect("publish for an organisation", 201, "", "POST", api+"/resources", owned, adminTok, jsonCT)
	expect("publish for an unknown organisation", 400, "invalid", "POST", api+"/resources",
		[]byte(`{"title":"x","kind":"tutorial","license":"CC-BY-SA-4.0","organisation":"inconnue"}`), adminTok, jsonCT)
	expect("editor changing an organisation's resource", 403, "forbidden", "PATCH", api+"/resources/kit-des-tilleuls", []byte(`{"title":"y"}`), n.Token, jsonCT)
	expect("get organisation", 200, "", "GET", api+"/organisations/tilleuls", nil, "", nil)
	expect("remove an organisation that owns a resource", 409, "conflict", "DELETE", api+"/organisations/tilleuls", nil, adminTok, nil)
	expect("remove organisation as editor", 403, "forbidden", "DELETE", api+"/organisations/tilleuls", nil, n.Token, nil)
	expect("remove organisation without token", 401, "unauthorized", "DELETE", api+"/organisations/tilleuls", nil, "", nil)
	expect("delete the organisation's resource", 204, "", "DELETE", api+"/resources/kit-des-tilleuls", nil, adminTok, nil)
	expect("remove organisation", 204, "", "DELETE", api+"/organisations/tilleuls", nil, adminTok, nil)
	expect("remove unknown organisation", 404, "not_found", "DELETE", api+"/organisations/tilleuls", nil, adminTok, nil)

	expect("openapi", 200, "", "GET", api+"/openapi.json", nil, "", nil)
	v.RequireCovered(t)
	if testing.Verbose() {
		for op, st := range v.Seen() {
			t.Logf("%s: %v", op, st)
		}
	}
}

// TestSearchDownFollowsOpenAPI: the 503 of a search engine that is down has
// the documented shape and Retry-After.
func TestSearchDownFollowsOpenAPI(t *testing.T) {
	down := search.NewReconnecting(func(context.Context) (node.Index, error) {
		return nil, errors.New("dial tcp 127.0.0.1:7700: connect: connection refused")
	}, time.Hour)
	n := testnode.Start(t, testnode.Options{Index: down})
	v := apitest.New(t, openapi.Document())
	resp, body := send(t, v.Client(), "GET", n.URL+"/api/v1/search?q=atelier", nil, "", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("search down: %d %v %s", resp.StatusCode, resp.Header, body)
	}
}

// TestOpenAPIEdgeCases: requests at and past the documented bounds get the
// documented answers: 400 with the error shape past a bound.
func TestOpenAPIEdgeCases(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true})
	v := apitest.New(t, openapi.Document())
	c := v.Client()
	api := n.URL + "/api/v1"
	jsonCT := map[string]string{"Content-Type": "application/json"}
	if resp, body := send(t, c, "POST", api+"/resources", []byte(kitJSON), n.Token, jsonCT); resp.StatusCode != 201 {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
	id := "creer-sa-premiere-adresse-e-mail"
	for _, tc := range []struct {
		name, method, url string
		header            map[string]string
		body              string
		status            int
		code              string
	}{
		{"list limit=1", "GET", api + "/resources?limit=1", nil, "", 200, ""},
		{"list limit=100", "GET", api + "/resources?limit=100", nil, "", 200, ""},
		{"list limit=0", "GET", api + "/resources?limit=0", nil, "", 400, "invalid"},
		{"list limit=500", "GET", api + "/resources?limit=500", nil, "", 400, "invalid"},
		{"list limit=abc", "GET", api + "/resources?limit=abc", nil, "", 400, "invalid"},
		{"list unknown cursor", "GET", api + "/resources?cursor=zzz", nil, "", 400, "invalid"},
		{"search per_page=1", "GET", api + "/search?per_page=1", nil, "", 200, ""},
		{"search per_page=100", "GET", api + "/search?per_page=100", nil, "", 200, ""},
		{"search per_page=0", "GET", api + "/search?per_page=0", nil, "", 400, "invalid"},
		{"search page=500", "GET", api + "/search?page=500", nil, "", 200, ""},
		{"search page=1000, past the 10000th hit", "GET", api + "/search?page=1000", nil, "", 400, "invalid"},
		{"search page=0", "GET", api + "/search?page=0", nil, "", 400, "invalid"},
		{"search q of 500 bytes", "GET", api + "/search?q=" + strings.Repeat("a", 500), nil, "", 200, ""},
		{"search q of 501 bytes", "GET", api + "/search?q=" + strings.Repeat("a", 499) + "%C3%A9", nil, "", 400, "invalid"},
		{"patch nothing", "PATCH", api + "/resources/" + id, jsonCT, "{}", 200, ""},
		{"patch an empty body", "PATCH", api + "/resources/" + id, jsonCT, "", 400, "bad_request"},
		{"publish without kind", "POST", api + "/resources", jsonCT, `{"title":"Sans genre","license":"CC-BY-4.0"}`, 400, "invalid"},
		{"publish without licence", "POST", api + "/resources", jsonCT, `{"title":"Sans licence","kind":"tutorial"}`, 400, "license_refused"},
		{"put resource.json", "PUT", api + "/resources/" + id + "/files/resource.json", nil, "{}", 400, "invalid"},
		{"put a non-hex X-Sha256", "PUT", api + "/resources/" + id + "/files/a.txt", map[string]string{"X-Sha256": "XYZ"}, "bonjour", 400, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.body != "" || tc.method != "GET" {
				body = []byte(tc.body)
			}
			resp, data := send(t, c, tc.method, tc.url, body, n.Token, tc.header)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s -> %d, want %d: %.300s", tc.method, tc.url, resp.StatusCode, tc.status, data)
			}
			if tc.code != "" {
				var e errBody
				if err := json.Unmarshal(data, &e); err != nil || e.Error.Code != tc.code {
					t.Fatalf("error %s, want code %q", data, tc.code)
				}
			}
		})
	}
}

// TestStorageDownFollowsOpenAPI: with the blob store (a real MinIO) gone,
// the writes and downloads that need it answer the documented 503, and the
// catalog reads keep answering.
func TestStorageDownFollowsOpenAPI(t *testing.T) {
	m := testenv.StartMinIO(t)
	s3, err := blob.NewS3(t.Context(), blob.S3Config{Endpoint: m.Endpoint, Bucket: m.Bucket(t),
		AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true, PathStyle: "path"})
	if err != nil {
		t.Fatal(err)
	}
	n := testnode.Start(t, testnode.Options{Blobs: s3})
	v := apitest.New(t, openapi.Document())
	c := v.Client()
	api := n.URL + "/api/v1"
	resp, body := send(t, c, "POST", api+"/resources", []byte(kitJSON), n.Token, map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 201 {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
	id := "creer-sa-premiere-adresse-e-mail"
	pdf := []byte("%PDF-1.7 stored before the outage")
	if resp, body := send(t, c, "PUT", api+"/resources/"+id+"/files/guide.pdf", pdf, n.Token, map[string]string{"Content-Type": "application/pdf"}); resp.StatusCode != 201 {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}

	m.Stop()
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="resource"`)
	h.Set("Content-Type", "application/json")
	pw, _ := mw.CreatePart(h)
	pw.Write([]byte(`{"title":"Atelier smartphone","kind":"workshop-kit","license":"etalab-2.0"}`))
	fw, _ := mw.CreateFormFile("file", "fiche.txt")
	fw.Write([]byte("Allumer le téléphone."))
	mw.Close()
	for _, tc := range []struct {
		name, method, url string
		body              []byte
		header            map[string]string
		status            int
	}{
		{"publish with files", "POST", api + "/resources", mp.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()}, 503},
		{"upload", "PUT", api + "/resources/" + id + "/files/annexe.pdf", pdf, map[string]string{"Content-Type": "application/pdf"}, 503},
		{"download", "GET", n.URL + "/r/" + id + "/files/guide.pdf", nil, nil, 503},
		{"zip", "GET", n.URL + "/r/" + id + ".zip", nil, nil, 503},
		{"read the metadata", "GET", api + "/resources/" + id, nil, nil, 200},
		{"list", "GET", api + "/resources", nil, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := send(t, c, tc.method, tc.url, tc.body, n.Token, tc.header)
			if resp.StatusCode != tc.status {
				t.Errorf("%s with storage down: %d, want %d: %s", tc.name, resp.StatusCode, tc.status, body)
			}
		})
	}
}
