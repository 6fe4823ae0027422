package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/blob"
	"github.com/communs-numerique/communs/storage/catalog"
	"github.com/communs-numerique/communs/storage/search/embedded"
	"github.com/communs-numerique/communs/web"
)

// logBuf is a slog destination a test can read while the server writes.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Reset forgets what was logged so far.
func (l *logBuf) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// errorLines returns the log lines at level ERROR.
func (l *logBuf) errorLines() []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		if strings.Contains(line, "level=ERROR") {
			out = append(out, line)
		}
	}
	return out
}

// loggedNode is a real node (bbolt catalog, disk blobs, embedded search)
// whose HTTP server logs into a buffer, so a test can assert on the log.
type loggedNode struct {
	URL     string
	Token   string
	Service *node.Service
	Blobs   node.Blobs
	Indexer *node.Indexer
	Log     *logBuf
	Dir     string
}

func startLogged(t *testing.T, blobs node.Blobs) *loggedNode {
	t.Helper()
	dir := t.TempDir()
	cat, err := catalog.Open(filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	if blobs == nil {
		d, err := blob.NewDisk(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		blobs = d
	}
	idx, err := embedded.Open(filepath.Join(dir, "search"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	lb := &logBuf{}
	log := slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	policy, _ := node.NewPolicy()
	indexer := node.NewIndexer(cat, idx, "test", log)
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Blobs: blobs, Policy: policy, Logger: log, Index: idx, Changed: indexer.Notify})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); indexer.Run(ctx) }()
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = web.New(svc, web.Options{PublicURL: url, Logger: log, Indexer: indexer}).Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	_, tok, err := svc.AddUser(context.Background(), "editor", node.RoleEditor)
	if err != nil {
		t.Fatal(err)
	}
	return &loggedNode{URL: url, Token: tok, Service: svc, Blobs: blobs, Indexer: indexer, Log: lb, Dir: dir}
}

// raw sends a request with arbitrary headers and returns status, headers, body.
func raw(t *testing.T, method, url string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func waitIndexed(t *testing.T, n *loggedNode, docs int) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, "index", func() bool {
		st, err := n.Indexer.Status(context.Background())
		return err == nil && st.Backlog == 0 && st.Documents == docs
	})
}

// publishLogged publishes kitJSON and returns the resource id.
func publishLogged(t *testing.T, n *loggedNode, body string) string {
	t.Helper()
	resp, b := raw(t, "POST", n.URL+"/api/v1/resources", map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": "application/json"}, strings.NewReader(body))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish: %d %s", resp.StatusCode, b)
	}
	var out struct{ ID string }
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out.ID
}

// refusal is one request a client gets wrong and the answer it must get.
type refusal struct {
	name         string
	method, path string
	hdr          map[string]string
	body         string
	status       int
	field        string // the parameter the answer names ("" for HTML pages)
	says         string // a piece of the message
}

// checkRefusals runs each case and asserts status, named field, message,
// and that no ERROR line reached the log: a client's mistake is not the
// node's failure.
func checkRefusals(t *testing.T, n *loggedNode, cases []refusal) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n.Log.Reset()
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			resp, b := raw(t, c.method, n.URL+c.path, c.hdr, body)
			if resp.StatusCode != c.status {
				t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, resp.StatusCode, c.status, b)
			}
			if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && c.status >= 400 {
				var e errBody
				if err := json.Unmarshal(b, &e); err != nil {
					t.Fatalf("decode %s: %v", b, err)
				}
				if e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.says) {
					t.Fatalf("answer names field %q (want %q), says %q (want it to contain %q)", e.Error.Field, c.field, e.Error.Message, c.says)
				}
			}
			if lines := n.Log.errorLines(); len(lines) > 0 {
				t.Fatalf("a client mistake was logged as ERROR:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// TestClientMistakesAre4xx: bad cursors, digests, pages and paging bounds
// are 4xx naming the parameter, on every list route alike, and never log
// an ERROR. Before, a bad cursor, a malformed X-Sha256 and a deep search
// page were 500s with ERROR lines, and limit=-1 was silently clamped.
func TestClientMistakesAre4xx(t *testing.T) {
	n := startLogged(t, nil)
	id := publishLogged(t, n, kitJSON)
	waitIndexed(t, n, 1)
	put := map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": "application/pdf", "X-Sha256": "not-a-digest"}
	mp, ctype := multipartBody(t, `{"title":"Kit avec empreinte","kind":"tutorial","license":"CC-BY-4.0"}`, "a.pdf", "%PDF-1.7", map[string]string{"X-Sha256": "abc"})
	html := map[string]string{"Accept": "text/html"}
	checkRefusals(t, n, []refusal{
		{"cursor not base64", "GET", "/api/v1/resources?cursor=!!", nil, "", 400, "cursor", "cursor"},
		{"cursor never issued", "GET", "/api/v1/resources?cursor=zzz", nil, "", 400, "", "cursor"},
		{"limit negative", "GET", "/api/v1/resources?limit=-1", nil, "", 400, "limit", "between 1 and 100"},
		{"limit zero", "GET", "/api/v1/resources?limit=0", nil, "", 400, "limit", "between 1 and 100"},
		{"limit huge", "GET", "/api/v1/resources?limit=1000000000", nil, "", 400, "limit", "between 1 and 100"},
		{"limit not a number", "GET", "/api/v1/resources?limit=dix", nil, "", 400, "limit", "whole number"},
		{"limit max", "GET", "/api/v1/resources?limit=100", nil, "", 200, "", ""},
		{"per_page negative", "GET", "/api/v1/search?per_page=-1", nil, "", 400, "per_page", "between 1 and 100"},
		{"per_page huge", "GET", "/api/v1/search?per_page=101", nil, "", 400, "per_page", "between 1 and 100"},
		{"page zero", "GET", "/api/v1/search?page=0", nil, "", 400, "page", "between 1 and 501"},
		{"page past the deep-paging bound", "GET", "/api/v1/search?page=600", nil, "", 400, "page", "between 1 and 501"},
		{"page past the bound for per_page=100", "GET", "/api/v1/search?page=102&per_page=100", nil, "", 400, "page", "between 1 and 101"},
		{"page past the last hit", "GET", "/api/v1/search?page=2", nil, "", 200, "", ""},
		{"last allowed page", "GET", "/api/v1/search?page=501", nil, "", 200, "", ""},
		{"search page too deep", "GET", "/recherche?page=900", html, "", 400, "", ""},
		{"browse cursor not issued", "GET", "/ressources?apres=zzz", html, "", 400, "", ""},
		{"X-Sha256 malformed", "PUT", "/api/v1/resources/" + id + "/files/a.pdf", put, "%PDF-1.7", 400, "X-Sha256", "64 hexadecimal"},
		{"multipart X-Sha256 malformed", "POST", "/api/v1/resources", map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": ctype}, mp, 400, "X-Sha256", "64 hexadecimal"},
		{"query not parseable", "GET", "/api/v1/search?q=%zz", nil, "", 400, "query", "malformed"},
	})
	if c := countBlobs(t, n.Blobs); c != 0 {
		t.Fatalf("%d blobs stored by refused uploads", c)
	}
}

func countBlobs(t *testing.T, b node.Blobs) int {
	t.Helper()
	c := 0
	if err := b.Walk(context.Background(), func(node.Blob) error { c++; return nil }); err != nil {
		t.Fatal(err)
	}
	return c
}

// multipartBody builds a publish body: the resource part, then one file
// part with extra headers. It returns the body and its Content-Type.
func multipartBody(t *testing.T, resource, fileName, content string, fileHdr map[string]string) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="resource"`)
	h.Set("Content-Type", "application/json")
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(pw, resource)
	if fileName != "" {
		h = textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName))
		h.Set("Content-Type", "application/pdf")
		for k, v := range fileHdr {
			h.Set(k, v)
		}
		fw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(fw, content)
	}
	mw.Close()
	return buf.String(), mw.FormDataContentType()
}

// putFile uploads content as name of resource id.
func putFile(t *testing.T, n *loggedNode, id, name string, content []byte) {
	t.Helper()
	resp, b := raw(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/"+name, map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": "application/pdf"}, bytes.NewReader(content))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload %s: %d %s", name, resp.StatusCode, b)
	}
}

// TestServerErrorsCarryAnID: a 5xx says nothing of the failure (no path,
// no error text) but gives an id that the ERROR log line also carries, in
// the API's JSON and on the HTML error page.
func TestServerErrorsCarryAnID(t *testing.T) {
	n := startLogged(t, nil)
	id := publishLogged(t, n, kitJSON)
	content := []byte("%PDF-1.7 a guide whose blob folder breaks")
	putFile(t, n, id, "guide.pdf", content)
	// Break the blob's folder: opening it now fails with "not a directory",
	// an internal failure whose text holds the data folder's path.
	digest := sha(content)
	shard := filepath.Join(n.Dir, "blobs", digest[0:2], digest[2:4])
	if err := os.RemoveAll(shard); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(shard, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	idRe := regexp.MustCompile(`[0-9a-f]{12}`)
	for _, accept := range []string{"application/json", "text/html"} {
		t.Run(accept, func(t *testing.T) {
			n.Log.Reset()
			resp, b := raw(t, "GET", n.URL+"/r/"+id+"/files/guide.pdf", map[string]string{"Accept": accept}, nil)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500: %s", resp.StatusCode, b)
			}
			if strings.Contains(string(b), n.Dir) || strings.Contains(string(b), "not a directory") || strings.Contains(string(b), digest) {
				t.Fatalf("the answer shows internals:\n%s", b)
			}
			var errID string
			if accept == "application/json" {
				var e struct {
					Error struct{ Code, Message, ID string }
				}
				if err := json.Unmarshal(b, &e); err != nil {
					t.Fatal(err)
				}
				if e.Error.Code != "internal" || !idRe.MatchString(e.Error.ID) || !strings.Contains(e.Error.Message, e.Error.ID) {
					t.Fatalf("500 body without an error id: %s", b)
				}
				errID = e.Error.ID
			} else {
				m := regexp.MustCompile(`Référence de l'erreur, à donner à l'administrateur : ([0-9a-f]{12})`).FindStringSubmatch(html.UnescapeString(string(b)))
				if m == nil {
					t.Fatalf("500 page without an error reference:\n%s", b)
				}
				errID = m[1]
			}
			lines := n.Log.errorLines()
			if len(lines) != 1 || !strings.Contains(lines[0], "error_id="+errID) || !strings.Contains(lines[0], "not a directory") {
				t.Fatalf("want one ERROR line with error_id=%s and the detail, got:\n%s", errID, strings.Join(lines, "\n"))
			}
		})
	}
}

// TestInvalidUTF8IsRefused: invalid UTF-8 in a JSON body (raw bytes or a
// lone surrogate escape), in the multipart metadata or in a query parameter
// is a 400 that changes nothing. Before, the JSON decoder turned the bytes
// into U+FFFD and a PATCH damaged the stored summary.
func TestInvalidUTF8IsRefused(t *testing.T) {
	n := startLogged(t, nil)
	id := publishLogged(t, n, kitJSON)
	jsonHdr := map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": "application/json"}
	badKit := strings.Replace(kitJSON, "Pas à pas.", "Pas \xe0 pas.", 1) // Latin-1 à
	mp, ctype := multipartBody(t, badKit, "a.pdf", "%PDF-1.7", nil)
	checkRefusals(t, n, []refusal{
		{"POST raw invalid byte", "POST", "/api/v1/resources", jsonHdr, badKit, 400, "body", "UTF-8"},
		{"PATCH raw invalid byte", "PATCH", "/api/v1/resources/" + id, jsonHdr, "{\"summary\":\"caf\xe9\"}", 400, "body", "UTF-8"},
		{"PATCH lone high surrogate", "PATCH", "/api/v1/resources/" + id, jsonHdr, `{"summary":"a\ud800b"}`, 400, "body", "surrogate"},
		{"PATCH lone low surrogate", "PATCH", "/api/v1/resources/" + id, jsonHdr, `{"summary":"\udc00"}`, 400, "body", "surrogate"},
		{"PATCH truncated overlong", "PATCH", "/api/v1/resources/" + id, jsonHdr, "{\"summary\":\"\xc0\xaf\"}", 400, "body", "UTF-8"},
		{"multipart metadata", "POST", "/api/v1/resources", map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": ctype}, mp, 400, "body", "UTF-8"},
		{"search q", "GET", "/api/v1/search?q=caf%E9", nil, "", 400, "q", "UTF-8"},
		{"list origin", "GET", "/api/v1/resources?origin=%FF", nil, "", 400, "origin", "UTF-8"},
		{"search page q", "GET", "/recherche?q=%FF", map[string]string{"Accept": "text/html"}, "", 400, "", ""},
		{"escaped backslash then u is text", "PATCH", "/api/v1/resources/" + id, jsonHdr, `{"summary":"C:\\ud800 n'est pas un échappement"}`, 200, "", ""},
		{"surrogate pair is fine", "PATCH", "/api/v1/resources/" + id, jsonHdr, `{"summary":"Pas à pas \ud83d\ude00"}`, 200, "", ""},
	})
	resp, b := raw(t, "GET", n.URL+"/api/v1/resources/"+id, nil, nil)
	var got struct{ Summary string }
	json.Unmarshal(b, &got)
	if resp.StatusCode != 200 || got.Summary != "Pas à pas 😀" {
		t.Fatalf("stored summary = %q, want the last valid PATCH's", got.Summary)
	}
	_, b = raw(t, "GET", n.URL+"/api/v1/resources", nil, nil)
	if !bytes.Contains(b, []byte(`"total":1`)) {
		t.Fatalf("a refused POST created a resource: %s", b)
	}
	if c := countBlobs(t, n.Blobs); c != 0 {
		t.Fatalf("%d blobs stored by refused requests", c)
	}
}

// FuzzValidJSONText: the surrogate scan never panics and accepts whatever
// encoding/json produces from a valid string.
func FuzzValidJSONText(f *testing.F) {
	for _, s := range []string{`{"a":"\ud800"}`, `"\\u"`, `"\ud83d\ude00"`, "\"\xff\"", `\`, `\u12`, `"\ud800\u0041"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := web.ValidJSONText(data)
		if !utf8.Valid(data) && err == nil {
			t.Fatalf("invalid UTF-8 accepted: %q", data)
		}
		if utf8.Valid(data) {
			enc, _ := json.Marshal(string(data))
			if err := web.ValidJSONText(enc); err != nil {
				t.Fatalf("json.Marshal output %s refused: %v", enc, err)
			}
		}
	})
}

// TestTruncatedUploadIs400: an upload whose body ends early (a multipart
// body without its closing boundary, or fewer bytes than Content-Length)
// is the client's fault: a 400, no resource, no blob, no ERROR line.
func TestTruncatedUploadIs400(t *testing.T) {
	t.Run("disk", func(t *testing.T) { checkTruncated(t, nil) })
	t.Run("s3", func(t *testing.T) { checkTruncated(t, minioBlobs(t)) })
}

// minioBlobs is an S3 store on a test MinIO, or a skip when none is set up.
func minioBlobs(t *testing.T) node.Blobs {
	t.Helper()
	if os.Getenv("COMMUNS_MINIO_BIN") == "" {
		t.Skip("set COMMUNS_MINIO_BIN to run against MinIO")
	}
	m := testenv.StartMinIO(t)
	s3, err := blob.NewS3(t.Context(), blob.S3Config{Endpoint: m.Endpoint, Bucket: m.Bucket(t),
		AccessKey: m.AccessKey, SecretKey: m.SecretKey, Insecure: true, PathStyle: "path"})
	if err != nil {
		t.Fatal(err)
	}
	return s3
}

func checkTruncated(t *testing.T, blobs node.Blobs) {
	n := startLogged(t, blobs)
	content := strings.Repeat("%PDF-1.7 page ", 20000)
	full, ctype := multipartBody(t, `{"title":"Kit coupé en route","kind":"tutorial","license":"CC-BY-4.0"}`, "guide.pdf", content, nil)
	cut := full[:len(full)/2]
	checkRefusals(t, n, []refusal{
		{"multipart cut in a file", "POST", "/api/v1/resources", map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": ctype}, cut, 400, "", "truncated"},
		{"multipart cut in the metadata", "POST", "/api/v1/resources", map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": ctype}, full[:150], 400, "", ""},
	})
	resp, b := raw(t, "GET", n.URL+"/api/v1/resources", nil, nil)
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"total":0`)) {
		t.Fatalf("a truncated publish left a resource: %s", b)
	}
	if c := countBlobs(t, n.Blobs); c != 0 {
		t.Fatalf("a truncated publish left %d blobs", c)
	}

	// A PUT that announces more bytes than it sends, then closes its side.
	id := publishLogged(t, n, kitJSON)
	n.Log.Reset()
	conn, err := net.Dial("tcp", strings.TrimPrefix(n.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /api/v1/resources/%s/files/guide.pdf HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/pdf\r\nContent-Length: 100000\r\n\r\n%s", id, n.Token, content[:5000])
	conn.(*net.TCPConn).CloseWrite()
	answer, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := io.ReadAll(answer.Body)
	if answer.StatusCode != http.StatusBadRequest || !bytes.Contains(ab, []byte("truncated")) {
		t.Fatalf("short PUT: %d %s", answer.StatusCode, ab)
	}
	if lines := n.Log.errorLines(); len(lines) > 0 {
		t.Fatalf("a short PUT was logged as ERROR:\n%s", strings.Join(lines, "\n"))
	}
	_, b = raw(t, "GET", n.URL+"/api/v1/resources/"+id, nil, nil)
	if !bytes.Contains(b, []byte(`"files":[]`)) || countBlobs(t, n.Blobs) != 0 {
		t.Fatalf("a short PUT left a file or blob: %s", b)
	}
}

// TestLanguageIsISO6391: a language code must exist (zz does not), on
// publish and on update; real codes beyond fr and en are accepted.
func TestLanguageIsISO6391(t *testing.T) {
	n := startLogged(t, nil)
	id := publishLogged(t, n, kitJSON)
	jsonHdr := map[string]string{"Authorization": "Bearer " + n.Token, "Content-Type": "application/json"}
	checkRefusals(t, n, []refusal{
		{"publish zz", "POST", "/api/v1/resources", jsonHdr, strings.Replace(kitJSON, `"language":"fr"`, `"language":"zz"`, 1), 400, "language", "ISO 639-1"},
		{"patch zz", "PATCH", "/api/v1/resources/" + id, jsonHdr, `{"language":"zz"}`, 400, "language", "ISO 639-1"},
		{"patch three letters", "PATCH", "/api/v1/resources/" + id, jsonHdr, `{"language":"fra"}`, 400, "language", "ISO 639-1"},
		{"patch br", "PATCH", "/api/v1/resources/" + id, jsonHdr, `{"language":"br"}`, 200, "", ""},
		{"patch upper case EN", "PATCH", "/api/v1/resources/" + id, jsonHdr, `{"language":"EN"}`, 200, "", ""},
	})
}

// TestEditorFormRefusesInvalidUTF8: form fields reach the node as they were
// sent (form decoding rewrites no byte), so the node's own check refuses a
// Latin-1 summary with a 400 and nothing is stored.
func TestEditorFormRefusesInvalidUTF8(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	ctx := context.Background()
	if err := n.Service.SetPassword(ctx, "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, n.URL)
	_, body := b.get("/connexion")
	resp, _ := b.postForm("/connexion", url.Values{"csrf": {csrfOf(t, body)}, "name": {"editor"}, "password": {"un-mot-de-passe-solide"}, "retour": {"/editeur/nouveau"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	_, body = b.get("/editeur/nouveau")
	fields := [][2]string{{"csrf", csrfOf(t, body)}, {"title", "Kit visio"}, {"summary", "Pas \xe0 pas"}, {"kind", "workshop-kit"},
		{"license", "CC-BY-SA-4.0"}, {"language", "fr"}}
	resp, body = b.postMultipart("/editeur/nouveau", fields, nil)
	wantStatus(t, "Latin-1 summary", resp, body, 400)
	if items, _, _ := n.Service.List(ctx, node.ListOptions{}); len(items) != 0 {
		t.Fatalf("a refused form left %d resources", len(items))
	}
}
