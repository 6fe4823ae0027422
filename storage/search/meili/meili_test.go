package meili

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meilisearch/meilisearch-go"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
	"github.com/communs-numerique/communs/storage/search/searchtest"
)

const skipMsg = "Meilisearch contract suite skipped: set COMMUNS_TEST_MEILI_URL (and COMMUNS_TEST_MEILI_KEY) to run it against a server"

// server opens a fresh index on the test server, deleted after the test.
func server(t *testing.T) node.Index {
	t.Helper()
	url := os.Getenv("COMMUNS_TEST_MEILI_URL")
	if url == "" {
		t.Skip(skipMsg)
	}
	b := make([]byte, 6)
	rand.Read(b)
	uid := "communs_test_" + hex.EncodeToString(b)
	cfg := Config{URL: url, APIKey: os.Getenv("COMMUNS_TEST_MEILI_KEY"), Index: uid, Timeout: time.Minute}
	x, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		c := meilisearch.New(cfg.URL, meilisearch.WithAPIKey(cfg.APIKey))
		if task, err := c.DeleteIndexWithContext(context.Background(), uid); err == nil {
			c.WaitForTaskWithContext(context.Background(), task.TaskUID, 50*time.Millisecond)
		}
	})
	return x
}

func TestContract(t *testing.T) {
	if os.Getenv("COMMUNS_TEST_MEILI_URL") == "" {
		t.Skip(skipMsg)
	}
	searchtest.Run(t, server)
}

func TestRelevance(t *testing.T) {
	if os.Getenv("COMMUNS_TEST_MEILI_URL") == "" {
		t.Skip(skipMsg)
	}
	searchtest.Relevance(t, server(t))
}

func TestFilter(t *testing.T) {
	for _, c := range []struct {
		name    string
		filters map[string][]string
		except  string
		want    string
	}{
		{"none", nil, "", ""},
		{"one value", map[string][]string{"kind": {"tutorial"}}, "", `kind = "tutorial"`},
		{"OR within a facet", map[string][]string{"kind": {"tutorial", "workshop-kit"}}, "", `(kind = "tutorial" OR kind = "workshop-kit")`},
		{"AND across facets, in facet order", map[string][]string{"hub": {"conumm"}, "kind": {"tutorial"}}, "", `kind = "tutorial" AND hub = "conumm"`},
		{"theme is the themes attribute", map[string][]string{"theme": {"ia"}}, "", `themes = "ia"`},
		{"except leaves a facet out", map[string][]string{"kind": {"tutorial"}, "level": {"debutant"}}, "kind", `level = "debutant"`},
		{"except the only facet", map[string][]string{"kind": {"tutorial"}}, "kind", ""},
		{"empty list ignored", map[string][]string{"kind": {}, "hub": {"a"}}, "", `hub = "a"`},
		{"double quote escaped", map[string][]string{"hub": {`a" OR hub = "b`}}, "", `hub = "a\" OR hub = \"b"`},
		{"backslash escaped", map[string][]string{"hub": {`a\`}}, "", `hub = "a\\"`},
		{"backslash before quote", map[string][]string{"hub": {`a\" OR x = "`}}, "", `hub = "a\\\" OR x = \""`},
		{"operators stay inside the string", map[string][]string{"license": {"CC-BY AND kind = x OR (y) NOT TO EXISTS"}}, "", `license = "CC-BY AND kind = x OR (y) NOT TO EXISTS"`},
		{"empty value", map[string][]string{"level": {""}}, "", `level = ""`},
		{"unicode", map[string][]string{"hub": {"hub-île-de-france"}}, "", `hub = "hub-île-de-france"`},
	} {
		if got := Filter(c.filters, c.except); got != c.want {
			t.Errorf("%s: Filter = %s, want %s", c.name, got, c.want)
		}
	}
}

// A quoted value must be one string token: reading it back by the filter
// grammar's rules gives the value, and the closing quote is the last byte.
func TestQuoteRoundTrip(t *testing.T) {
	for _, v := range []string{``, `a`, `"`, `\`, `\"`, `""\\`, `x" OR y = "z`, `é’"\n`} {
		q := Quote(v)
		if q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("Quote(%q) = %s: not quoted", v, q)
		}
		var b strings.Builder
		body := q[1 : len(q)-1]
		for i := 0; i < len(body); i++ {
			c := body[i]
			if c == '\\' {
				i++
				if i == len(body) {
					t.Fatalf("Quote(%q) = %s ends with a lone backslash", v, q)
				}
				b.WriteByte(body[i])
				continue
			}
			if c == '"' {
				t.Fatalf("Quote(%q) = %s has an unescaped quote inside", v, q)
			}
			b.WriteByte(c)
		}
		if b.String() != v {
			t.Errorf("Quote(%q) = %s reads back as %q", v, q, b.String())
		}
	}
}

func TestSettingsPayload(t *testing.T) {
	raw, err := json.Marshal(Settings(true))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	strs := func(key string) []string {
		var out []string
		for _, v := range got[key].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if want := []string{"title_fr", "title_en", "summary_fr", "summary_en", "themes", "description_fr", "description_en", "authors", "files"}; !slices.Equal(strs("searchableAttributes"), want) {
		t.Errorf("searchableAttributes = %v, want %v", strs("searchableAttributes"), want)
	}
	if want := []string{"kind", "themes", "audience", "level", "language", "license", "hub", "organisation"}; !slices.Equal(strs("filterableAttributes"), want) {
		t.Errorf("filterableAttributes = %v, want %v", strs("filterableAttributes"), want)
	}
	if want := []string{"published", "id"}; !slices.Equal(strs("sortableAttributes"), want) {
		t.Errorf("sortableAttributes = %v", strs("sortableAttributes"))
	}
	if rr := strs("rankingRules"); len(rr) == 0 || rr[0] != "sort" || !slices.Contains(rr, "words") {
		t.Errorf("rankingRules = %v: want sort first, then the relevance rules", rr)
	}
	typo := got["typoTolerance"].(map[string]any)
	sizes := typo["minWordSizeForTypos"].(map[string]any)
	if typo["enabled"] != true || sizes["oneTypo"] != 5.0 || sizes["twoTypos"] != 9.0 {
		t.Errorf("typoTolerance = %v", typo)
	}
	if typo["disableOnWords"] == nil || typo["disableOnAttributes"] == nil {
		t.Errorf("typoTolerance lists must be [] not null: %v", typo)
	}
	if f := got["faceting"].(map[string]any); f["maxValuesPerFacet"].(float64) < 100 {
		t.Errorf("faceting = %v", f)
	}
	if p := got["pagination"].(map[string]any); p["maxTotalHits"].(float64) < search.MaxOffset+search.MaxPerPage {
		t.Errorf("pagination.maxTotalHits %v does not cover the deepest page", p["maxTotalHits"])
	}
	loc, _ := got["localizedAttributes"].([]any)
	if len(loc) != 2 || !strings.Contains(string(raw), `{"locales":["fra"],"attributePatterns":["*_fr"]}`) ||
		!strings.Contains(string(raw), `{"locales":["eng"],"attributePatterns":["*_en"]}`) {
		t.Errorf("localizedAttributes = %v", got["localizedAttributes"])
	}
	if !slices.Contains(strs("stopWords"), "en") || !slices.Contains(strs("stopWords"), "the") {
		t.Errorf("stopWords = %v", strs("stopWords"))
	}

	raw, _ = json.Marshal(Settings(false))
	if strings.Contains(string(raw), "localizedAttributes") {
		t.Errorf("old servers must not get localizedAttributes: %s", raw)
	}
}

func TestSupportsLocalized(t *testing.T) {
	for v, want := range map[string]bool{"1.9.0": false, "1.10.0": true, "1.12.3": true, "2.0.0": true, "v1.11.1": true, "0.30.0": false, "": true, "nightly": true} {
		if got := supportsLocalized(v); got != want {
			t.Errorf("supportsLocalized(%q) = %v", v, got)
		}
	}
}

func TestDocument(t *testing.T) {
	fr := document(node.Resource{ID: "a", Metadata: node.Metadata{Title: "Titre", Summary: "Résumé", Description: "**Objectifs**\n- un", Language: "fr"}})
	en := document(node.Resource{ID: "b", Metadata: node.Metadata{Title: "Title", Language: "en"}})
	if fr["title_fr"] != "Titre" || fr["summary_fr"] != "Résumé" || fr["description_fr"] != "Objectifs un" || fr["title_en"] != nil {
		t.Errorf("French document = %v", fr)
	}
	if en["title_en"] != "Title" || en["title_fr"] != nil {
		t.Errorf("English document = %v", en)
	}
	if themes, ok := fr["themes"].([]string); !ok || themes == nil {
		t.Errorf("nil lists must be sent as []: %v", fr["themes"])
	}
}

func TestRequests(t *testing.T) {
	q, err := search.Normalize(node.Query{Text: "arnaque", Filters: map[string][]string{"kind": {"tutorial", "workshop-kit"}, "level": {"debutant"}}, Page: 2, PerPage: 10})
	if err != nil {
		t.Fatal(err)
	}
	reqs := Requests("kits", q)
	if len(reqs) != 3 {
		t.Fatalf("want the main query and one per filtered facet, got %d", len(reqs))
	}
	main := reqs[0]
	if main.Filter != `(kind = "tutorial" OR kind = "workshop-kit") AND level = "debutant"` || main.Page != 2 || *main.HitsPerPage != 10 {
		t.Errorf("main request: filter %v page %d per page %d", main.Filter, main.Page, *main.HitsPerPage)
	}
	if slices.Contains(main.Facets, "kind") || slices.Contains(main.Facets, "level") || !slices.Contains(main.Facets, "themes") {
		t.Errorf("main request facets %v: want the unfiltered facets", main.Facets)
	}
	if reqs[1].Filter != `level = "debutant"` || !slices.Equal(reqs[1].Facets, []string{"kind"}) || *reqs[1].HitsPerPage != 0 {
		t.Errorf("kind facet request: filter %v facets %v", reqs[1].Filter, reqs[1].Facets)
	}
	if reqs[2].Filter != `(kind = "tutorial" OR kind = "workshop-kit")` || !slices.Equal(reqs[2].Facets, []string{"level"}) {
		t.Errorf("level facet request: filter %v facets %v", reqs[2].Filter, reqs[2].Facets)
	}
	if main.HighlightPreTag != preTag || len(main.AttributesToHighlight) == 0 {
		t.Error("a text query must ask for highlights")
	}

	q, _ = search.Normalize(node.Query{})
	reqs = Requests("kits", q)
	if len(reqs) != 1 || reqs[0].Filter != nil || !slices.Equal(reqs[0].Sort, []string{"published:desc", "id:asc"}) || len(reqs[0].AttributesToHighlight) != 0 {
		t.Errorf("browse request: %+v", reqs[0])
	}
}

// fake is a minimal Meilisearch HTTP API: the endpoints this package uses.
type fake struct {
	mu       sync.Mutex
	nextTask int64
	batches  []int
	failTask map[int64]string // task uid -> error code
	settings []byte
	multi    []byte
	answer   string
	version  string
	docs     int
}

func newFake(t *testing.T) (*fake, *httptest.Server) {
	f := &fake{failTask: map[int64]string{}, version: "1.12.0"}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fake) task(w http.ResponseWriter) {
	f.nextTask++
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"taskUid":%d,"indexUid":"kits","status":"enqueued","type":"x","enqueuedAt":"2025-01-01T00:00:00Z"}`, f.nextTask)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	switch p := r.URL.Path; {
	case p == "/health":
		fmt.Fprint(w, `{"status":"available"}`)
	case p == "/version":
		fmt.Fprintf(w, `{"pkgVersion":%q}`, f.version)
	case p == "/indexes" && r.Method == http.MethodPost:
		f.task(w)
	case strings.HasSuffix(p, "/settings") && r.Method == http.MethodPatch:
		f.settings = body
		f.task(w)
	case strings.HasSuffix(p, "/settings") && r.Method == http.MethodGet:
		w.Write(f.settings)
	case strings.HasSuffix(p, "/documents") && r.Method == http.MethodPost:
		var docs []map[string]any
		if err := json.Unmarshal(body, &docs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.batches = append(f.batches, len(docs))
		f.docs += len(docs)
		f.task(w)
	case strings.HasSuffix(p, "/documents/delete-batch"):
		f.task(w)
	case strings.HasSuffix(p, "/documents") && r.Method == http.MethodDelete:
		f.task(w)
	case strings.HasSuffix(p, "/stats"):
		fmt.Fprintf(w, `{"numberOfDocuments":%d}`, f.docs)
	case strings.HasPrefix(p, "/tasks/"):
		var uid int64
		fmt.Sscanf(strings.TrimPrefix(p, "/tasks/"), "%d", &uid)
		if code, ok := f.failTask[uid]; ok {
			fmt.Fprintf(w, `{"uid":%d,"status":"failed","error":{"message":"it went wrong","code":%q,"type":"invalid_request"}}`, uid, code)
			return
		}
		fmt.Fprintf(w, `{"uid":%d,"status":"succeeded"}`, uid)
	case p == "/multi-search":
		f.multi = body
		fmt.Fprint(w, f.answer)
	default:
		http.Error(w, `{"message":"not faked"}`, http.StatusNotFound)
	}
}

func openFake(t *testing.T, srv *httptest.Server) *Index {
	t.Helper()
	x, err := Open(context.Background(), Config{URL: srv.URL, APIKey: "k", Index: "kits", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	x.pollEvery = time.Millisecond
	return x
}

func TestOpenAppliesSettings(t *testing.T) {
	f, srv := newFake(t)
	openFake(t, srv)
	if !strings.Contains(string(f.settings), `"localizedAttributes"`) || !strings.Contains(string(f.settings), `"oneTypo":5`) {
		t.Errorf("settings sent: %s", f.settings)
	}
	f.version = "1.8.2"
	f.settings = nil
	openFake(t, srv)
	if strings.Contains(string(f.settings), `"localizedAttributes"`) {
		t.Errorf("localizedAttributes sent to a 1.8 server: %s", f.settings)
	}
}

func TestOpenAcceptsExistingIndex(t *testing.T) {
	f, srv := newFake(t)
	f.failTask[1] = "index_already_exists"
	openFake(t, srv)
}

func TestUpsertBatches(t *testing.T) {
	f, srv := newFake(t)
	x := openFake(t, srv)
	rs := corpus.Synthetic(corpus.MustLoad(t), 2*BatchSize+500, 3)
	if err := x.Upsert(context.Background(), rs); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
	if want := []int{BatchSize, BatchSize, 500}; !slices.Equal(f.batches, want) {
		t.Errorf("batches = %v, want %v", f.batches, want)
	}
	if n, err := x.Count(context.Background()); err != nil || n != len(rs) {
		t.Errorf("Count = %d, %v", n, err)
	}
	f.batches = nil
	if err := x.Upsert(context.Background(), nil); err != nil || len(f.batches) != 0 {
		t.Errorf("empty Upsert: %v, %v batches", err, f.batches)
	}
}

func TestFailedTaskIsAnError(t *testing.T) {
	f, srv := newFake(t)
	x := openFake(t, srv)
	f.failTask[f.nextTask+2] = "invalid_document_id" // the second batch
	err := x.Upsert(context.Background(), corpus.Synthetic(corpus.MustLoad(t), BatchSize+1, 3))
	if err == nil || !strings.Contains(err.Error(), "invalid_document_id") || !strings.Contains(err.Error(), "it went wrong") {
		t.Errorf("Upsert with a failed task: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	_, err := Open(context.Background(), Config{URL: url, Index: "kits", Timeout: time.Second})
	if !errors.Is(err, node.ErrUnavailable) {
		t.Errorf("Open on a closed port: %v, want ErrUnavailable", err)
	}

	f, live := newFake(t)
	x := openFake(t, live)
	_ = f
	live.Close()
	if _, err := x.Search(context.Background(), node.Query{Text: "x"}); !errors.Is(err, node.ErrUnavailable) {
		t.Errorf("Search after the server went away: %v, want ErrUnavailable", err)
	}
	if err := x.Upsert(context.Background(), searchtest.Fixtures()); !errors.Is(err, node.ErrUnavailable) {
		t.Errorf("Upsert after the server went away: %v, want ErrUnavailable", err)
	}
}

func TestOpenRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{{URL: "", Index: "kits"}, {URL: "http://x", Index: "bad name"}, {URL: "http://x", Index: ""}} {
		if _, err := Open(context.Background(), cfg); !errors.Is(err, node.ErrInvalid) {
			t.Errorf("Open(%+v): %v, want ErrInvalid", cfg, err)
		}
	}
}

func TestSearchConvertsResponse(t *testing.T) {
	f, srv := newFake(t)
	x := openFake(t, srv)
	f.answer = `{"results":[
	 {"indexUid":"kits","hits":[
	   {"id":"piege","title_fr":"<script>x</script> Sécurité","summary_fr":"Résumé","kind":"tutorial","themes":["cybersecurite"],"audience":["seniors"],
	    "level":"debutant","license":"CC0-1.0","language":"fr","hub":"hub-a","published":"2024-01-02","_rankingScore":0.9,
	    "_formatted":{"title_fr":"<script>x</script> \uE000Sécurité\uE001","summary_fr":"Résumé","description_fr":"…la \uE000sécurité\uE001 & <b>le reste</b>…"}},
	   {"id":"en","title_en":"Safety","summary_en":"Stay safe","language":"en","_rankingScore":0.5,
	    "_formatted":{"title_en":"Safety","summary_en":"Stay safe","description_en":"no match here"}}
	 ],"totalHits":42,"page":1,"hitsPerPage":20,"facetDistribution":{"themes":{"cybersecurite":40,"ia":2},"audience":{"seniors":42}}},
	 {"indexUid":"kits","hits":[],"totalHits":50,"facetDistribution":{"kind":{"tutorial":42,"practical-sheet":8}}}
	]}`
	res, err := x.Search(context.Background(), node.Query{Text: "sécurité", Filters: map[string][]string{"kind": {"tutorial", "workshop-kit"}}})
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		Queries []map[string]any `json:"queries"`
	}
	if err := json.Unmarshal(f.multi, &sent); err != nil || len(sent.Queries) != 2 {
		t.Fatalf("multi-search sent %s (%v)", f.multi, err)
	}
	if sent.Queries[0]["filter"] != `(kind = "tutorial" OR kind = "workshop-kit")` || sent.Queries[1]["filter"] != nil {
		t.Errorf("filters sent: %v / %v", sent.Queries[0]["filter"], sent.Queries[1]["filter"])
	}
	if res.Total != 42 || len(res.Hits) != 2 {
		t.Fatalf("total %d, %d hits", res.Total, len(res.Hits))
	}
	h := res.Hits[0]
	if h.Title != "<script>x</script> Sécurité" || h.Kind != "tutorial" || h.Published != "2024-01-02" || h.Score != 0.9 {
		t.Errorf("hit = %+v", h)
	}
	if got := h.Highlights["title"]; got != "&lt;script&gt;x&lt;/script&gt; <mark>Sécurité</mark>" {
		t.Errorf("title highlight = %q", got)
	}
	if got := h.Highlights["description"]; got != "…la <mark>sécurité</mark> &amp; &lt;b&gt;le reste&lt;/b&gt;…" {
		t.Errorf("description highlight = %q", got)
	}
	if _, ok := res.Hits[1].Highlights["description"]; ok || res.Hits[1].Title != "Safety" {
		t.Errorf("English hit %+v: title from title_en, no description snippet without a match", res.Hits[1])
	}
	kinds := map[string]int{}
	for _, c := range res.Facets["kind"] {
		kinds[c.Value] = c.Count
	}
	if kinds["tutorial"] != 42 || kinds["practical-sheet"] != 8 || kinds["workshop-kit"] != 0 || len(res.Facets["kind"]) != 3 {
		t.Errorf("kind facet (disjunctive, picked values kept) = %v", res.Facets["kind"])
	}
	if res.Facets["theme"][0] != (node.FacetCount{Value: "cybersecurite", Count: 40}) {
		t.Errorf("theme facet = %v", res.Facets["theme"])
	}
	for _, f := range node.Facets {
		if res.Facets[f] == nil {
			t.Errorf("facet %s missing", f)
		}
	}
}

func TestCheckSettings(t *testing.T) {
	f, srv := newFake(t)
	x := openFake(t, srv)
	if err := x.CheckSettings(context.Background()); err != nil {
		t.Fatalf("settings just applied: %v", err)
	}
	f.mu.Lock()
	f.settings = []byte(strings.Replace(string(f.settings), `"hub"`, `"nothing"`, 1))
	f.mu.Unlock()
	if err := x.CheckSettings(context.Background()); err == nil || !strings.Contains(err.Error(), "filterableAttributes") {
		t.Fatalf("a changed filterable attribute must be named: %v", err)
	}
}
