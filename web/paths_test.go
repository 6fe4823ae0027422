package web_test

import (
	"html"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/internal/testnode"
)

// TestServedAtBuiltURLs: the addresses the API and the page hand out for a
// resource and files with awkward names are the internal/paths builders'
// and each one is served by the node, so links, downloads and federated
// ids stay the same route.
func TestServedAtBuiltURLs(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	base := paths.Base(n.URL)
	names := []string{"mon guide.pdf", "été #1 ?.txt", "100%.txt", "a+b&c=d.txt"}
	for _, name := range names {
		resp := call(t, "PUT", base.URL(paths.APIFilePath(id, name)), n.Token, "", strings.NewReader("contenu "+name), nil)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("PUT %q: status %d", name, resp.StatusCode)
		}
	}
	var got struct {
		URL    string `json:"url"`
		ZipURL string `json:"zip_url"`
		Files  []struct {
			Name string `json:"name"`
			URL  string `json:"url"`
		} `json:"files"`
	}
	call(t, "GET", base.URL(paths.APIResourcePath(id)), "", "", nil, &got)
	if got.URL != base.Resource(id) || got.ZipURL != base.Zip(id) {
		t.Errorf("url %s, zip_url %s; want %s, %s", got.URL, got.ZipURL, base.Resource(id), base.Zip(id))
	}
	if len(got.Files) != len(names) {
		t.Fatalf("files %+v", got.Files)
	}
	page := call(t, "GET", got.URL, "", "", nil, nil)
	raw, _ := io.ReadAll(page.Body)
	body := html.UnescapeString(string(raw)) // html/template writes + as &#43;
	for _, f := range got.Files {
		if f.URL != base.File(id, f.Name) {
			t.Errorf("file %q: url %s, want %s", f.Name, f.URL, base.File(id, f.Name))
		}
		resp := call(t, "GET", f.URL, "", "", nil, nil)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(b) != "contenu "+f.Name {
			t.Errorf("GET %s: %d %q", f.URL, resp.StatusCode, b)
		}
		if !strings.Contains(body, `href="`+paths.FilePath(id, f.Name)+`"`) {
			t.Errorf("page has no link %s", paths.FilePath(id, f.Name))
		}
	}
	list, _ := io.ReadAll(call(t, "GET", n.URL+"/ressources", "", "", nil, nil).Body)
	if !strings.Contains(string(list), `href="`+paths.ResourcePath(id)+`"`) {
		t.Errorf("browse page has no link %s", paths.ResourcePath(id))
	}
	if resp := call(t, "GET", got.ZipURL, "", "", nil, nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("GET %s: %d %s", got.ZipURL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
