package oaipmh_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/oaipmh"
	"github.com/communs-numerique/communs/storage/catalog"
)

// countingCatalog counts what the repository reads from the catalog.
type countingCatalog struct {
	oaipmh.Catalog
	resources, changes atomic.Int64
}

func (c *countingCatalog) List(ctx context.Context, opt node.ListOptions) ([]node.Resource, string, error) {
	rs, next, err := c.Catalog.List(ctx, opt)
	c.resources.Add(int64(len(rs)))
	return rs, next, err
}

func (c *countingCatalog) Changes(ctx context.Context, after uint64, limit int) ([]node.Change, error) {
	ch, err := c.Catalog.Changes(ctx, after, limit)
	c.changes.Add(int64(len(ch)))
	return ch, err
}

// TestDeepPagingIsBounded lists 3,000 resources and 50 deletions a page
// of 100 at a time: a page deep in the list reads no more of the catalog
// than the first pages do (the token carries a position, not an offset).
func TestDeepPagingIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("3,000 resources")
	}
	cat, err := catalog.Open(filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer cat.Close()
	ctx := context.Background()
	const live, gone = 3000, 50
	start := time.Now().UTC().Add(-time.Hour)
	var rs []node.Resource
	for i := range live + gone {
		at := start.Add(time.Duration(i) * time.Millisecond)
		rs = append(rs, node.Resource{ID: fmt.Sprintf("kit-%05d", i), Metadata: node.Metadata{Title: "Kit " + strconv.Itoa(i), Kind: "tutorial",
			Themes: []string{"smartphone"}, License: "CC0-1.0", Language: "fr"}, Created: at, Updated: at})
	}
	if _, errs, err := cat.UpsertMany(ctx, rs, func(old, r *node.Resource) error { return nil }); err != nil {
		t.Fatal(err)
	} else {
		for _, e := range errs {
			if e != nil {
				t.Fatal(e)
			}
		}
	}
	for i := live; i < live+gone; i++ {
		if _, _, err := cat.Delete(ctx, fmt.Sprintf("kit-%05d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cc := &countingCatalog{Catalog: cat}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = oaipmh.New(oaipmh.Config{Catalog: cc, PublicURL: "http://" + srv.Listener.Addr().String()})
	srv.Start()
	defer srv.Close()

	q := "verb=ListIdentifiers&metadataPrefix=oai_dc&from=0001-01-01&until=9999-12-31"
	seen := 0
	deleted := 0
	for page := 0; ; page++ {
		cc.resources.Store(0)
		cc.changes.Store(0)
		a := get(t, srv.URL, q)
		if len(a.Errors) > 0 {
			t.Fatalf("page %d: %+v", page, a.Errors)
		}
		seen += len(a.Headers)
		for _, h := range a.Headers {
			if h.Status == "deleted" {
				deleted++
			}
		}
		res, chg := cc.resources.Load(), cc.changes.Load()
		tok := a.ITokens[0]
		if page == 0 && tok.CompleteListSize != strconv.Itoa(live+gone) {
			t.Errorf("completeListSize %q, want %d", tok.CompleteListSize, live+gone)
		}
		// Pages inside the live part: the page and one look-ahead, plus the
		// re-read that finds the next page's cursor, never the 3,000 before.
		if page > 0 && page < live/100-1 && (res > 2*100+1 || chg != 0) {
			t.Errorf("page %d read %d resources and %d changes", page, res, chg)
		}
		if tok.Value == "" {
			break
		}
		if page > live/100+5 {
			t.Fatal("no end")
		}
		q = "verb=ListIdentifiers&resumptionToken=" + url.QueryEscape(tok.Value)
	}
	if seen != live+gone || deleted != gone {
		t.Errorf("listed %d headers (%d deleted), want %d (%d)", seen, deleted, live+gone, gone)
	}
}
