package catalogue_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/catalogue"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

type obj = map[string]any

func fetch(t *testing.T, url string) (int, obj) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var doc obj
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", url, err, body)
	}
	if resp.StatusCode == http.StatusOK && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/ld+json") {
		t.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, doc
}

// byType indexes a page's graph: the nodes of each @type.
func byType(t *testing.T, doc obj) map[string][]obj {
	t.Helper()
	out := map[string][]obj{}
	graph, ok := doc["@graph"].([]any)
	if !ok {
		t.Fatalf("no @graph: %v", doc)
	}
	for _, n := range graph {
		m := n.(obj)
		switch tp := m["@type"].(type) {
		case string:
			out[tp] = append(out[tp], m)
		case []any:
			for _, x := range tp {
				out[x.(string)] = append(out[x.(string)], m)
			}
		}
	}
	return out
}

func iri(v any) string {
	if m, ok := v.(obj); ok {
		s, _ := m["@id"].(string)
		return s
	}
	return ""
}

func value(v any) (string, string) {
	switch m := v.(type) {
	case obj:
		s, _ := m["@value"].(string)
		typ, _ := m["@type"].(string)
		if typ == "" {
			typ, _ = m["@language"].(string)
		}
		return s, typ
	case string:
		return m, ""
	}
	return "", ""
}

func need(t *testing.T, what string, n obj, props ...string) {
	t.Helper()
	for _, p := range props {
		if v, ok := n[p]; !ok || v == nil || v == "" {
			t.Errorf("%s lacks %s: %v", what, p, n)
		}
	}
}

func TestCatalogueDCATAP(t *testing.T) {
	old := catalogue.PageSize
	catalogue.PageSize = 2
	defer func() { catalogue.PageSize = old }()
	n := testnode.Start(t, testnode.Options{Hub: "hinaura"})
	ctx := context.Background()
	content := map[string]string{}
	var ids []string
	for i := range 5 {
		body := "contenu du kit " + strconv.Itoa(i)
		r, err := n.Service.Publish(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit " + strconv.Itoa(i), Summary: "Un kit pour l'atelier " + strconv.Itoa(i),
			Kind: "workshop-kit", Themes: []string{"cybersecurite"}, License: "etalab-2.0", Language: "fr", Authors: []string{"Marie Curie"}}},
			func(yield func(node.Upload) error) error {
				return yield(node.Upload{Name: "fiche n°1.pdf", MediaType: "application/pdf", Body: strings.NewReader(body), Size: -1})
			}, false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.URL+"/r/"+r.ID)
		content[r.ID] = body
	}
	remote := node.Resource{ID: "copie-distante-0a1b2c3d", Metadata: node.Metadata{Title: "Copie distante", Kind: "tutorial", License: "CC0-1.0", Language: "fr"},
		Origin: "https://hub.example.org/r/copie", Created: time.Now().UTC(), Updated: time.Now().UTC()}
	if err := n.Catalog.Create(ctx, remote); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	url := n.URL + "/catalogue.jsonld"
	for page := 1; url != ""; page++ {
		if page > 5 {
			t.Fatal("no end to the pages")
		}
		status, doc := fetch(t, url)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %v", url, status, doc)
		}
		nodes := byType(t, doc)
		cats := nodes["dcat:Catalog"]
		if len(cats) != 1 {
			t.Fatalf("page %d: %d catalogs", page, len(cats))
		}
		cat := cats[0]
		need(t, "Catalog", cat, "dct:title", "dct:description", "dct:publisher", "dcat:dataset", "foaf:homepage", "dct:language", "dcat:themeTaxonomy", "dct:modified")
		if iri(cat["dct:language"]) != "http://publications.europa.eu/resource/authority/language/FRA" {
			t.Errorf("catalog language %v", cat["dct:language"])
		}
		agents := nodes["foaf:Agent"]
		if len(agents) != 1 || iri(cat["dct:publisher"]) != agents[0]["@id"] {
			t.Errorf("publisher %v is not the hub agent %v", cat["dct:publisher"], agents)
		} else {
			need(t, "Agent", agents[0], "foaf:name")
		}
		listed := map[string]bool{}
		for _, d := range cat["dcat:dataset"].([]any) {
			listed[iri(d)] = true
		}
		for _, d := range nodes["dcat:Dataset"] {
			id := d["@id"].(string)
			if !listed[id] {
				t.Errorf("dataset %s not listed by the catalog", id)
			}
			if seen[id] {
				t.Errorf("dataset %s on two pages", id)
			}
			seen[id] = true
			need(t, "Dataset", d, "dct:title", "dct:description", "dct:identifier", "dcat:landingPage", "dct:license", "dcat:keyword",
				"dcat:theme", "dct:language", "dct:publisher", "dct:issued", "dct:modified", "dct:creator", "dcat:distribution", "dcat:contactPoint")
			if iri(d["dct:license"]) != "https://www.etalab.gouv.fr/licence-ouverte-open-licence/" {
				t.Errorf("licence %v", d["dct:license"])
			}
			if iri(d["dct:language"]) != "http://publications.europa.eu/resource/authority/language/FRA" {
				t.Errorf("language %v", d["dct:language"])
			}
			if v, typ := value(d["dct:modified"]); typ != "xsd:dateTime" || v == "" {
				t.Errorf("modified %v", d["dct:modified"])
			}
			dists := d["dcat:distribution"].([]any)
			if len(dists) != 1 {
				t.Fatalf("%s: %d distributions", id, len(dists))
			}
			dist := dists[0].(obj)
			need(t, "Distribution", dist, "dcat:accessURL", "dcat:downloadURL", "dcat:mediaType", "dcat:byteSize", "spdx:checksum", "dct:license")
			if iri(dist["dcat:mediaType"]) != "http://www.iana.org/assignments/media-types/application/pdf" {
				t.Errorf("media type %v", dist["dcat:mediaType"])
			}
			rid := strings.TrimPrefix(id, n.URL+"/r/")
			want := content[rid]
			sum := sha256.Sum256([]byte(want))
			if v, typ := value(dist["dcat:byteSize"]); typ != "xsd:nonNegativeInteger" || v != strconv.Itoa(len(want)) {
				t.Errorf("byteSize %v, want %d", dist["dcat:byteSize"], len(want))
			}
			ck := dist["spdx:checksum"].(obj)
			if iri(ck["spdx:algorithm"]) != "http://spdx.org/rdf/terms#checksumAlgorithm_sha256" {
				t.Errorf("checksum algorithm %v", ck["spdx:algorithm"])
			}
			if v, typ := value(ck["spdx:checksumValue"]); typ != "xsd:hexBinary" || v != hex.EncodeToString(sum[:]) {
				t.Errorf("checksum value %v", ck["spdx:checksumValue"])
			}
			// The download URL serves those bytes.
			resp, err := http.Get(iri(dist["dcat:downloadURL"]))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(got) != want {
				t.Errorf("download %s: %d %q", iri(dist["dcat:downloadURL"]), resp.StatusCode, got)
			}
		}
		views := nodes["hydra:PartialCollectionView"]
		if len(views) != 1 {
			t.Fatalf("page %d: %d hydra views", page, len(views))
		}
		v := views[0]
		if iri(v["hydra:first"]) != n.URL+"/catalogue.jsonld?page=1" || iri(v["hydra:last"]) != n.URL+"/catalogue.jsonld?page=3" {
			t.Errorf("page %d: first %v last %v", page, v["hydra:first"], v["hydra:last"])
		}
		if total, _ := value(v["hydra:totalItems"]); total != "5" {
			t.Errorf("totalItems %v", v["hydra:totalItems"])
		}
		if (page > 1) != (v["hydra:previous"] != nil) {
			t.Errorf("page %d: previous %v", page, v["hydra:previous"])
		}
		url = iri(v["hydra:next"])
	}
	if len(seen) != len(ids) {
		t.Errorf("%d datasets over the pages, want %d (the remote copy left out)", len(seen), len(ids))
	}
	for _, id := range ids {
		if !seen[id] {
			t.Errorf("%s missing", id)
		}
	}

	for q, want := range map[string]int{"page=0": 400, "page=abc": 400, "page=1&page=2": 400, "page=4": 404, "page=99999999999": 400} {
		status, doc := fetch(t, n.URL+"/catalogue.jsonld?"+q)
		if status != want {
			t.Errorf("%s: %d, want %d", q, status, want)
		}
		if e, _ := doc["error"].(obj); e == nil || e["message"] == "" {
			t.Errorf("%s: no reason given: %v", q, doc)
		}
	}
}

// TestAdaptationSource: an adaptation's dataset names the dataset it
// derives from as dct:source; its source names none.
func TestAdaptationSource(t *testing.T) {
	n := testnode.Start(t, testnode.Options{Hub: "hinaura"})
	ctx := context.Background()
	src, err := n.Service.Publish(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit source", Kind: "workshop-kit", License: "CC-BY-4.0", Language: "fr"}}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	srcURL := n.URL + "/r/" + src.ID
	ad, err := n.Service.Adapt(ctx, src.ID, node.AdaptOptions{Title: "Kit adapté", SourceURL: srcURL})
	if err != nil {
		t.Fatal(err)
	}
	status, doc := fetch(t, n.URL+"/catalogue.jsonld")
	if status != http.StatusOK {
		t.Fatalf("catalogue: %d", status)
	}
	found := 0
	for _, d := range byType(t, doc)["dcat:Dataset"] {
		var sources []string
		if list, ok := d["dct:source"].([]any); ok {
			for _, s := range list {
				sources = append(sources, iri(s))
			}
		}
		switch d["@id"] {
		case n.URL + "/r/" + ad.ID:
			found++
			if len(sources) != 1 || sources[0] != srcURL {
				t.Errorf("adaptation's dct:source = %v, want [%s]", sources, srcURL)
			}
		case srcURL:
			found++
			if len(sources) != 0 {
				t.Errorf("source's dct:source = %v, want none", sources)
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d of the two datasets", found)
	}
}
