package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

func goldenCollection() (node.Collection, []collectionItem) {
	at := time.Date(2026, 11, 5, 14, 0, 0, 0, time.UTC)
	c := node.Collection{ID: "parcours-adresse-email", Title: "Parcours : mon adresse e-mail",
		Summary: "Trois séances pour créer & utiliser sa messagerie.", Description: "**Objectif** : écrire son premier e-mail.\n\n- Séance 1\n- Séance 2",
		Items:        []node.CollectionItem{{Resource: "creer-sa-premiere-adresse-email", Note: "Séance 2 : créer son adresse e-mail"}, {Resource: "copie-d-un-autre-hub-abcdefghijklmnop"}},
		Organisation: "atelier-mayennais", OrganisationName: "Atelier Numérique Mayennais", Hub: "conumm",
		Created: at, Updated: at.Add(2 * time.Hour)}
	items := []collectionItem{
		{ID: testURLs.object("creer-sa-premiere-adresse-email"), Name: "Créer sa première adresse e-mail", Note: "Séance 2 : créer son adresse e-mail"},
		{ID: "https://hub-sud.example/r/naviguer-sur-internet", Name: "Naviguer sur internet"},
	}
	return c, items
}

func TestGoldenCollection(t *testing.T) {
	c, items := goldenCollection()
	obj, err := collectionObject(testURLs, c, items)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "collection", obj)
	create, err := activity("Create", createCollectionID(testURLs, c), testURLs.actor(), obj, []string{asPublic}, []string{testURLs.followers()})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "collection-create", create)
}

// TestCollectionRoundTrip: what one node sends, another reads back: the
// items in order with their notes, the text, the organisation.
func TestCollectionRoundTrip(t *testing.T) {
	c, items := goldenCollection()
	obj, _ := collectionObject(testURLs, c, items)
	act, _ := activity("Update", testURLs.activity("update", "1"), testURLs.actor(), obj, []string{asPublic}, nil)
	body, _ := json.Marshal(act)
	in, err := parseActivity(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	if !isCollectionObject(in.Object) {
		t.Fatal("our own collection is not read as one")
	}
	got, gotItems, err := parseCollection(in.Object)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != testURLs.collection(c.ID) || got.ID != c.ID || got.Title != c.Title || got.Summary != c.Summary || got.Description != c.Description ||
		!got.Updated.Equal(c.Updated) || got.OrganisationName != c.OrganisationName || got.OrganisationURL != testURLs.base+"/organisations/atelier-mayennais" {
		t.Fatalf("round trip lost fields:\n got %+v\nwant %+v", got, c)
	}
	if len(gotItems) != 2 || gotItems[0] != items[0] || gotItems[1] != items[1] {
		t.Fatalf("items %+v, want %+v", gotItems, items)
	}
	if _, err := collectionObject(testURLs, node.Collection{ID: "x", Origin: "https://ailleurs.example/collections/x"}, nil); err == nil {
		t.Fatal("a copy was turned into this hub's object")
	}
}

// TestParseCollectionHostile: a collection object is bounded and its items
// are absolute web addresses; repeated items count once.
func TestParseCollectionHostile(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"id": "https://hub-b.example/collections/c", "type": "Collection", "name": "C"}
	}
	many := make([]any, node.MaxCollectionItems+1)
	for i := range many {
		many[i] = map[string]any{"id": fmt.Sprintf("https://hub-b.example/r/kit-%d", i)}
	}
	for _, tc := range []struct {
		name  string
		items any
		ok    bool
		n     int
	}{
		{"too many items", many, false, 0},
		{"the most items", many[:node.MaxCollectionItems], true, node.MaxCollectionItems},
		{"script item", []any{map[string]any{"id": "javascript:alert(1)"}}, false, 0},
		{"relative item", []any{"/r/kit"}, false, 0},
		{"file item", []any{"file:///etc/passwd"}, false, 0},
		{"repeated item", []any{"https://hub-b.example/r/a", map[string]any{"id": "https://hub-b.example/r/a", "note": "x"}}, true, 1},
		{"no items", nil, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			if tc.items != nil {
				o[itemsKey] = tc.items
			}
			_, items, err := parseCollection(o)
			if tc.ok != (err == nil) || len(items) != tc.n {
				t.Fatalf("got %d items, %v; want ok=%v with %d", len(items), err, tc.ok, tc.n)
			}
			if err != nil && !errors.Is(err, errBadActivity) {
				t.Fatalf("refusal %v is not a malformed activity", err)
			}
		})
	}
	o := base()
	o["type"] = "Note"
	if _, _, err := parseCollection(o); err == nil || !strings.Contains(err.Error(), "not a collection") {
		t.Fatalf("a Note read as a collection: %v", err)
	}
}
