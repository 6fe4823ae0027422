package oaipmh_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/oaipmh"
	"github.com/communs-numerique/communs/storage/catalog"
)

// BenchmarkListRecords measures one page of 100 oai_dc records on a
// catalog of 10,000 local resources: the first page (which also counts the
// list for completeListSize) and a page 50 deep (resumed from its token).
func BenchmarkListRecords(b *testing.B) {
	cat, err := catalog.Open(filepath.Join(b.TempDir(), "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer cat.Close()
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Hour)
	for chunk := 0; chunk < 10; chunk++ {
		var rs []node.Resource
		for i := range 1000 {
			n := chunk*1000 + i
			at := start.Add(time.Duration(n) * time.Millisecond)
			rs = append(rs, node.Resource{ID: fmt.Sprintf("kit-%05d", n), Metadata: node.Metadata{Title: fmt.Sprintf("Kit d'atelier numéro %d", n),
				Summary: "Un kit pour animer un atelier de médiation numérique.", Kind: "workshop-kit",
				Themes: []string{"smartphone", "cybersecurite"}, License: "CC-BY-SA-4.0", Language: "fr",
				Authors: []string{"Marie Curie"}}, Created: at, Updated: at,
				Files: []node.File{{Name: "guide.pdf", MediaType: "application/pdf", Size: 1000, SHA256: fmt.Sprintf("%064x", n)}}})
		}
		if _, _, err := cat.UpsertMany(ctx, rs, func(old, r *node.Resource) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = oaipmh.New(oaipmh.Config{Catalog: cat, PublicURL: "http://" + srv.Listener.Addr().String()})
	srv.Start()
	defer srv.Close()
	page := func(q string) string {
		resp, err := http.Get(srv.URL + "?" + q)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct {
			Token string   `xml:"ListRecords>resumptionToken"`
			IDs   []string `xml:"ListRecords>record>header>identifier"`
		}
		body, _ := io.ReadAll(resp.Body)
		if err := xml.Unmarshal(body, &a); err != nil || len(a.IDs) != 100 {
			b.Fatalf("%v, %d records", err, len(a.IDs))
		}
		return a.Token
	}
	first := "verb=ListRecords&metadataPrefix=oai_dc"
	q := first
	for range 50 {
		q = "verb=ListRecords&resumptionToken=" + url.QueryEscape(page(q))
	}
	b.Run("first-page-with-count", func(b *testing.B) {
		for b.Loop() {
			page(first)
		}
	})
	b.Run("page-50", func(b *testing.B) {
		for b.Loop() {
			page(q)
		}
	})
}
