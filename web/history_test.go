package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
)

type historyPage struct {
	Items []map[string]any `json:"items"`
	Next  string           `json:"next"`
}

// TestHistoryAPI: each change through the API is a revision, newest first,
// in pages that follow next; the resource says its version; an account
// name never shows; an unknown resource is a 404 and a forged cursor a 400.
func TestHistoryAPI(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	res := publish(t, n, kitJSON)
	id := res["id"].(string)
	if res["version"] != float64(1) {
		t.Errorf("published resource version = %v, want 1", res["version"])
	}
	api := n.URL + "/api/v1/resources/" + id
	call(t, "PATCH", api, n.Token, "application/json", strings.NewReader(`{"title":"Nouveau titre"}`), nil)
	call(t, "PUT", api+"/files/guide.pdf", n.Token, "application/pdf", bytes.NewReader([]byte("%PDF-1 v1")), nil)
	call(t, "PUT", api+"/files/guide.pdf", n.Token, "application/pdf", bytes.NewReader([]byte("%PDF-1 v2")), nil)
	call(t, "DELETE", api+"/files/guide.pdf", n.Token, "", nil, nil)

	var got map[string]any
	call(t, "GET", api, "", "", nil, &got)
	if got["version"] != float64(5) {
		t.Errorf("version after 4 changes = %v, want 5", got["version"])
	}

	var all []map[string]any
	url, pages := api+"/history?limit=2", 0
	for {
		var page historyPage
		resp := call(t, "GET", url, "", "", nil, &page)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", url, resp.StatusCode)
		}
		pages++
		all = append(all, page.Items...)
		if page.Next == "" {
			break
		}
		url = api + "/history?limit=2&cursor=" + page.Next
	}
	var lines []string
	for _, rev := range all {
		if _, ok := rev["by"]; ok {
			t.Errorf("revision %v names an account", rev["version"])
		}
		line := fmt.Sprintf("%v", rev["version"])
		for _, f := range list(rev["fields"]) {
			line += " " + f["field"].(string) + ":" + f["after"].(string)
		}
		for _, f := range list(rev["files"]) {
			line += " " + f["change"].(string) + ":" + f["name"].(string)
		}
		lines = append(lines, line)
	}
	want := []string{"5 removed:guide.pdf", "4 replaced:guide.pdf", "3 added:guide.pdf", "2 title:Nouveau titre", "1"}
	if strings.Join(lines, "|") != strings.Join(want, "|") || pages != 3 {
		t.Errorf("history = %q in %d pages, want %q in 3", lines, pages, want)
	}
	if all[len(all)-1]["created"] != true {
		t.Errorf("oldest revision is not the creation: %v", all[len(all)-1])
	}
	if rep := list(all[1]["files"])[0]; rep["before_sha256"] != sha([]byte("%PDF-1 v1")) || rep["after_sha256"] != sha([]byte("%PDF-1 v2")) {
		t.Errorf("replaced file digests: %v", rep)
	}

	for _, tc := range []struct {
		url    string
		status int
	}{
		{n.URL + "/api/v1/resources/absent/history", 404},
		{n.URL + "/api/v1/resources/NOT..AN..ID/history", 404},
		{api + "/history?cursor=AAAA", 400},
		{api + "/history?cursor=%25%25", 400},
		{api + "/history?limit=0", 400},
		{api + "/history?limit=101", 400},
	} {
		var e errBody
		if resp := call(t, "GET", tc.url, "", "", nil, &e); resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d (%+v)", tc.url, resp.StatusCode, tc.status, e)
		}
	}

	call(t, "DELETE", api, n.Token, "", nil, nil)
	if resp := call(t, "GET", api+"/history", "", "", nil, nil); resp.StatusCode != 404 {
		t.Errorf("history of a deleted resource: %d, want 404", resp.StatusCode)
	}
}

func list(v any) []map[string]any {
	var out []map[string]any
	items, _ := v.([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// TestHistoryOnThePage: the section speaks French and English, a copy's
// changes name the hub they came from, and a forged history link answers
// 400 with the newest changes and a reason.
func TestHistoryOnThePage(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	id := publish(t, n, kitJSON)["id"].(string)
	call(t, "PATCH", n.URL+"/api/v1/resources/"+id, n.Token, "application/json", strings.NewReader(`{"license":"CC-BY-4.0"}`), nil)

	fr := newBrowser(t, n.URL)
	resp, body := fr.get("/r/" + id)
	if resp.StatusCode != 200 {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	wantIn(t, "French history", body, `<h2 id="h-history">Historique</h2>`, "Licence modifiée le ", "Créé le ")
	en := newBrowser(t, n.URL)
	en.lang = "en"
	_, body = en.get("/r/" + id)
	wantIn(t, "English history", body, `<h2 id="h-history">History</h2>`, "Licence changed on ", "Created on ")

	resp, body = fr.get("/r/" + id + "?historique=AAAA")
	if resp.StatusCode != 400 {
		t.Errorf("forged history link: %d, want 400", resp.StatusCode)
	}
	wantIn(t, "forged history link", body, "Ce lien vers l&#39;historique n&#39;est pas valide", "Licence modifiée le ")
}
