package web_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// BenchmarkCollectionSearch: a type=collection search reads every
// collection from the catalog and matches its words; this is its cost on
// a hub with many collections (docs/BENCHMARKS.md).
func BenchmarkCollectionSearch(b *testing.B) {
	for _, size := range []int{100, 1000} {
		b.Run(fmt.Sprintf("%d-collections", size), func(b *testing.B) {
			n := testnode.Start(b, testnode.Options{})
			ctx := context.Background()
			if _, err := n.Service.Publish(ctx, node.Resource{ID: "kit", Metadata: node.Metadata{Title: "Kit", Kind: "tutorial", License: "CC-BY-SA-4.0"}}, nil, false); err != nil {
				b.Fatal(err)
			}
			themes := []string{"smartphone", "messagerie", "démarches en ligne", "visioconférence", "sécurité"}
			for i := range size {
				c := node.Collection{ID: fmt.Sprintf("c-%d", i), Title: fmt.Sprintf("Parcours %s n° %d", themes[i%len(themes)], i),
					Summary: "Des séances pour débuter, dans l'ordre, avec leurs notes.", Description: "**Avant** : vérifier le Wi-Fi et les comptes.",
					Items: []node.CollectionItem{{Resource: "kit", Note: "Séance 1"}}}
				if _, err := n.Service.CreateCollection(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				resp, err := http.Get(n.URL + "/api/v1/search?type=collection&q=visioconference&per_page=20")
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("search: %v %v", resp, err)
				}
				resp.Body.Close()
			}
		})
	}
}
