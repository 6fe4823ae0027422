package catalogue_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/piprate/json-gold/ld"

	"github.com/communs-numerique/communs/catalogue"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// noNetwork refuses every remote context: the catalogue's context is
// inline, so turning it into RDF must need nothing from the network.
type noNetwork struct{}

func (noNetwork) LoadDocument(u string) (*ld.RemoteDocument, error) {
	return nil, errors.New("no network in tests: " + u)
}

// TestCatalogueAsRDF turns a page into N-Quads with a JSON-LD processor
// (json-gold) and checks the triples a DCAT-AP harvester reads, with full
// IRIs and datatypes: a typo in a prefix or a term would drop them.
func TestCatalogueAsRDF(t *testing.T) {
	old := catalogue.PageSize
	catalogue.PageSize = 1
	defer func() { catalogue.PageSize = old }()
	n := testnode.Start(t, testnode.Options{Hub: "hinaura"})
	ctx := context.Background()
	var id string
	for i := range 2 {
		r, err := n.Service.Publish(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit " + strconv.Itoa(i), Summary: "Résumé", Kind: "tutorial",
			Themes: []string{"cybersecurite"}, License: "CC-BY-4.0", Language: "fr", Authors: []string{"Ada"}}},
			func(yield func(node.Upload) error) error {
				return yield(node.Upload{Name: "guide.txt", MediaType: "text/plain; charset=utf-8", Body: strings.NewReader("bonjour"), Size: -1})
			}, false)
		if err != nil {
			t.Fatal(err)
		}
		id = r.ID // the newest comes first
	}
	resp, err := http.Get(n.URL + "/catalogue.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	opts := ld.NewJsonLdOptions("")
	opts.Format = "application/n-quads"
	opts.DocumentLoader = noNetwork{}
	out, err := ld.NewJsonLdProcessor().ToRDF(doc, opts)
	if err != nil {
		t.Fatalf("not JSON-LD: %v", err)
	}
	quads := out.(string)
	base := n.URL
	ds := "<" + base + "/r/" + id + ">"
	dist := "<" + base + "/r/" + id + "#file-guide.txt>"
	view := "<" + base + "/catalogue.jsonld?page=1>"
	want := []string{
		"<" + base + "/catalogue.jsonld> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/dcat#Catalog>",
		"<" + base + "/catalogue.jsonld> <http://www.w3.org/ns/dcat#dataset> " + ds,
		"<" + base + "/catalogue.jsonld> <http://purl.org/dc/terms/publisher> <" + base + "/#hub>",
		"<" + base + "/#hub> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://xmlns.com/foaf/0.1/Agent>",
		ds + " <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/dcat#Dataset>",
		ds + ` <http://purl.org/dc/terms/title> "Kit 1"@fr`,
		ds + " <http://purl.org/dc/terms/license> <https://creativecommons.org/licenses/by/4.0/deed.fr>",
		ds + " <http://purl.org/dc/terms/language> <http://publications.europa.eu/resource/authority/language/FRA>",
		ds + " <http://www.w3.org/ns/dcat#theme> <http://publications.europa.eu/resource/authority/data-theme/EDUC>",
		ds + " <http://www.w3.org/ns/dcat#landingPage> " + ds,
		ds + " <http://www.w3.org/ns/dcat#distribution> " + dist,
		dist + " <http://www.w3.org/ns/dcat#downloadURL> <" + base + "/r/" + id + "/files/guide.txt>",
		dist + " <http://www.w3.org/ns/dcat#mediaType> <http://www.iana.org/assignments/media-types/text/plain>",
		dist + ` <http://www.w3.org/ns/dcat#byteSize> "7"^^<http://www.w3.org/2001/XMLSchema#nonNegativeInteger>`,
		` <http://spdx.org/rdf/terms#algorithm> <http://spdx.org/rdf/terms#checksumAlgorithm_sha256>`,
		` <http://spdx.org/rdf/terms#checksumValue> "2cb4b1431b84ec15d35ed83bb927e27e8967d75f4bcd9cc4b25c8d879ae23e18"^^<http://www.w3.org/2001/XMLSchema#hexBinary>`,
		view + " <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/ns/hydra/core#PartialCollectionView>",
		view + " <http://www.w3.org/ns/hydra/core#next> <" + base + "/catalogue.jsonld?page=2>",
		view + " <http://www.w3.org/ns/hydra/core#last> <" + base + "/catalogue.jsonld?page=2>",
	}
	for _, w := range want {
		if !strings.Contains(quads, w) {
			t.Errorf("missing triple %s", w)
		}
	}
	if t.Failed() {
		t.Logf("N-Quads:\n%s", quads)
	}
}
