package web_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
	"github.com/communs-numerique/communs/web"
)

// seedCorpus publishes the corpus's open-licence resources (metadata only)
// and waits until the indexer has caught up.
func seedCorpus(t *testing.T, n *testnode.Node) int {
	t.Helper()
	ctx := context.Background()
	count := 0
	for _, r := range corpus.MustLoad(t) {
		r.Files = nil
		if _, err := n.Service.Create(ctx, r); err != nil {
			if errors.Is(err, node.ErrInvalid) {
				continue // the NC and proprietary entries
			}
			t.Fatalf("create %s: %v", r.ID, err)
		}
		count++
	}
	testenv.Eventually(t, 10*time.Second, "index the corpus", func() bool {
		st, err := n.Indexer.Status(ctx)
		return err == nil && st.Backlog == 0 && st.Documents == count
	})
	return count
}

func searchAPI(t *testing.T, n *testnode.Node, params string) web.SearchJSON {
	t.Helper()
	var out web.SearchJSON
	resp := call(t, "GET", n.URL+"/api/v1/search?"+params, "", "", nil, &out)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("search %s: status %d", params, resp.StatusCode)
	}
	return out
}

func hitIDs(res web.SearchJSON) []string {
	var ids []string
	for _, h := range res.Hits {
		ids = append(ids, h.ID)
	}
	return ids
}

func TestSearchAPI(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true})
	total := seedCorpus(t, n)

	res := searchAPI(t, n, "q="+url.QueryEscape("mot de pase"))
	if len(res.Hits) == 0 || !strings.Contains(res.Hits[0].Title, "mot de passe") {
		t.Fatalf("typo query: first hit %v", hitIDs(res))
	}
	h := res.Hits[0]
	if h.URL != n.URL+"/r/"+h.ID || h.License == "" || h.Kind == "" || h.Hub == "" || len(h.Themes) == 0 {
		t.Errorf("hit lacks what a result needs: %+v", h)
	}
	if !strings.Contains(h.Highlights["title"], "<mark>") {
		t.Errorf("matched words should be marked in the title: %q", h.Highlights["title"])
	}
	for _, f := range node.Facets {
		if _, ok := res.Facets[f]; !ok {
			t.Errorf("facet %s missing from the answer", f)
		}
	}

	// Browse: no text, every resource, facets over all of them.
	all := searchAPI(t, n, "per_page=5")
	if all.Total != total || len(all.Hits) != 5 || all.PerPage != 5 {
		t.Fatalf("browse: total %d (want %d), %d hits", all.Total, total, len(all.Hits))
	}
	sum := 0
	for _, fc := range all.Facets["kind"] {
		sum += fc.Count
	}
	if sum != total {
		t.Errorf("kind facet counts add up to %d, want %d", sum, total)
	}

	// OR within a facet, AND across facets.
	kits := searchAPI(t, n, "kind=workshop-kit&per_page=100")
	guides := searchAPI(t, n, "kind=transition-guide&per_page=100")
	both := searchAPI(t, n, "kind=workshop-kit&kind=transition-guide&per_page=100")
	if both.Total != kits.Total+guides.Total || kits.Total == 0 || guides.Total == 0 {
		t.Errorf("kind OR: %d + %d != %d", kits.Total, guides.Total, both.Total)
	}
	en := searchAPI(t, n, "kind=workshop-kit&kind=transition-guide&language=en&per_page=100")
	for _, h := range en.Hits {
		if h.Language != "en" || (h.Kind != "workshop-kit" && h.Kind != "transition-guide") {
			t.Errorf("AND across facets broken: %s is %s/%s", h.ID, h.Kind, h.Language)
		}
	}
	if en.Total >= both.Total {
		t.Errorf("language=en should narrow %d results, got %d", both.Total, en.Total)
	}

	// Newest first.
	newest := searchAPI(t, n, "sort=newest&per_page=20")
	for i := 1; i < len(newest.Hits); i++ {
		if newest.Hits[i].Published > newest.Hits[i-1].Published {
			t.Fatalf("sort=newest out of order at %d: %s after %s", i, newest.Hits[i].Published, newest.Hits[i-1].Published)
		}
	}

	// Paging: two pages hold different hits.
	p1 := searchAPI(t, n, "q=atelier&per_page=3&page=1")
	p2 := searchAPI(t, n, "q=atelier&per_page=3&page=2")
	for _, id := range hitIDs(p2) {
		if slices.Contains(hitIDs(p1), id) {
			t.Errorf("page 2 repeats %s from page 1", id)
		}
	}

	for _, bad := range []struct{ params, field string }{
		{"per_page=500", "per_page"},
		{"page=deux", "page"},
		{"sort=popular", "sort"},
		{"couleur=bleu", "couleur"},
	} {
		var e errBody
		resp := call(t, "GET", n.URL+"/api/v1/search?"+bad.params, "", "", nil, &e)
		if resp.StatusCode != http.StatusBadRequest || e.Error.Field != bad.field || e.Error.Message == "" {
			t.Errorf("%s: status %d, error %+v; want 400 naming %s", bad.params, resp.StatusCode, e.Error, bad.field)
		}
	}
}

// TestSearchFollowsChanges checks what an editor sees: a resource they
// create, rename, give a file or delete shows up that way in search within
// a second.
func TestSearchFollowsChanges(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Search: true})
	found := func(q, id string) func() bool {
		return func() bool {
			res, err := n.Client.Search(context.Background(), url.Values{"q": {q}})
			return err == nil && slices.Contains(hitIDs(res), id)
		}
	}
	gone := func(q, id string) func() bool {
		f := found(q, id)
		return func() bool { return !f() }
	}
	id := publish(t, n, kitJSON)["id"].(string)
	testenv.Eventually(t, time.Second, "created resource searchable", found("premiere adresse", id))

	var out map[string]any
	resp := call(t, "PATCH", n.URL+"/api/v1/resources/"+id, n.Token, "application/json",
		strings.NewReader(`{"title":"Ouvrir une boîte aux lettres électronique"}`), &out)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("patch: %d %v", resp.StatusCode, out)
	}
	testenv.Eventually(t, time.Second, "new title searchable", found("boite aux lettres", id))
	testenv.Eventually(t, time.Second, "old title forgotten", gone("premiere adresse", id))

	resp = call(t, "PUT", n.URL+"/api/v1/resources/"+id+"/files/memento-messagerie.pdf", n.Token, "application/pdf",
		bytes.NewReader([]byte("%PDF-1.7 memento")), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	testenv.Eventually(t, time.Second, "added file's name searchable", found("memento", id))

	resp = call(t, "DELETE", n.URL+"/api/v1/resources/"+id, n.Token, "", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	testenv.Eventually(t, time.Second, "deleted resource gone from search", gone("boite aux lettres", id))
}

// TestSearchEngineDown: a node whose Meilisearch server is down keeps
// publishing and browsing; only search answers 503, with a message.
func TestSearchEngineDown(t *testing.T) {
	down := search.NewReconnecting(func(context.Context) (node.Index, error) {
		return nil, errors.New("dial tcp 127.0.0.1:7700: connect: connection refused")
	}, time.Hour)
	n := testnode.Start(t, testnode.Options{Index: down})

	var e errBody
	resp := call(t, "GET", n.URL+"/api/v1/search?q=atelier", "", "", nil, &e)
	if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "unavailable" || e.Error.Message == "" {
		t.Fatalf("search with the engine down: %d %+v, want 503 unavailable", resp.StatusCode, e.Error)
	}
	if strings.Contains(e.Error.Message, "7700") {
		t.Errorf("the error leaks internals: %q", e.Error.Message)
	}
	// A 5xx like any other: the id an admin finds in the log.
	if e.Error.ID == "" || !strings.Contains(e.Error.Message, e.Error.ID) || !strings.Contains(e.Error.Message, "search is unavailable") {
		t.Errorf("search down answered without its error id or its words: %+v", e.Error)
	}
	id := publish(t, n, kitJSON)["id"].(string)
	var list struct {
		Items []map[string]any `json:"items"`
	}
	resp = call(t, "GET", n.URL+"/api/v1/resources", "", "", nil, &list)
	if resp.StatusCode != http.StatusOK || len(list.Items) != 1 || list.Items[0]["id"] != id {
		t.Fatalf("browsing with the engine down: %d %v", resp.StatusCode, list.Items)
	}
	st, err := n.Indexer.Status(context.Background())
	if err != nil || st.Backlog == 0 {
		t.Fatalf("the change should wait in the backlog while the engine is down: %+v %v", st, err)
	}
}
