package catalog

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

// realistic mirrors a typical kit: a few KB of Markdown, several authors and
// themes, four files. Record size drives bbolt's page splits and the JSON
// cost, so a toy resource would flatter the figures.
func realistic(i int) node.Resource {
	r := resource(fmt.Sprintf("kit-atelier-numerique-%06d", i), base.Add(time.Duration(i)*time.Second))
	r.Summary = strings.Repeat("Un atelier pour découvrir le smartphone pas à pas. ", 6)
	r.Description = strings.Repeat("## Séance\n\nObjectifs, déroulé, matériel et **exercices** pour les participants.\n\n", 40)
	r.Themes = []string{"inclusion", "smartphone", "demarches-en-ligne"}
	r.Audience = []string{"seniors", "grand-public"}
	r.Authors = []string{"Camille Martin", "Yanis Benali", "Association Les Petits Débrouillards"}
	for j := range 4 {
		r.Files = append(r.Files, file(fmt.Sprintf("fiche-%d.pdf", j), fmt.Sprintf("%d-%d", i, j)))
	}
	return r
}

// BenchmarkCreate measures durable creates (one fsync each), what an import
// of kits or a federation catch-up pays per resource.
func BenchmarkCreate(b *testing.B) {
	s := openTemp(b)
	rs := make([]node.Resource, b.N)
	for i := range rs {
		rs[i] = realistic(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.Create(ctx, rs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "resources/s")
}

// BenchmarkList pages through a catalog of 5000 resources 50 at a time, the
// public listing's page size.
func BenchmarkList(b *testing.B) {
	s := openTemp(b)
	s.DB().NoSync = true // setup speed only: listing never writes
	const total = 5000
	for i := range total {
		mustCreate(b, s, realistic(i))
	}
	s.DB().NoSync = false
	b.ReportAllocs()
	b.ResetTimer()
	var pages, listed int
	for b.Loop() {
		opt := node.ListOptions{Limit: 50}
		rs, next, err := s.List(ctx, opt)
		if err != nil {
			b.Fatal(err)
		}
		pages++
		listed += len(rs)
		// Continue deeper pages too, so the benchmark covers cursor seeks.
		for range 4 {
			if next == "" {
				break
			}
			opt.After = next
			rs, next, err = s.List(ctx, opt)
			if err != nil {
				b.Fatal(err)
			}
			pages++
			listed += len(rs)
		}
	}
	b.ReportMetric(float64(pages)/b.Elapsed().Seconds(), "pages/s")
	b.ReportMetric(float64(listed)/b.Elapsed().Seconds(), "resources/s")
}
