package federation

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

// TestBasedOnRoundTrip: the chain written into an object is the chain
// read back, and the attribution line of the post escapes its text.
func TestBasedOnRoundTrip(t *testing.T) {
	chain := []node.Source{
		{URL: "https://lens.example/r/kit", Title: "Kit <d'origine>", Hub: "hub-lens", Authors: []string{"Awa Diallo"}, License: "CC-BY-SA-4.0"},
		{URL: "https://gap.example/r/kit-gap", Title: "Kit Gap", Hub: "hub-gap", License: "LAL-1.3"},
	}
	r := node.Resource{ID: "kit-gap-2", Metadata: node.Metadata{Title: "Kit", Kind: "tutorial", License: "LAL-1.3", Language: "fr", Hub: "hub-c"},
		Created: time.Unix(0, 0), Updated: time.Unix(0, 0), BasedOn: chain}
	obj, err := resourceObject(urls{base: "https://c.example"}, r)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(obj) // as a peer reads it
	var sent map[string]any
	if err := json.Unmarshal(data, &sent); err != nil {
		t.Fatal(err)
	}
	got, _, err := parseResource(sent)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.BasedOn) != 2 || got.BasedOn[0].Title != chain[0].Title || got.BasedOn[0].Authors[0] != "Awa Diallo" || got.BasedOn[1].License != "LAL-1.3" {
		t.Fatalf("read back %+v", got.BasedOn)
	}
	content, _ := obj["content"].(string)
	if !strings.Contains(content, "Adapté de « Kit Gap »") || strings.Contains(content, "<d'origine>") {
		t.Errorf("content %q", content)
	}
	if urls, _ := obj[keyIsBasedOn].([]any); len(urls) != 2 {
		t.Errorf("schema:isBasedOn = %v", obj[keyIsBasedOn])
	}
}

// TestParseBasedOnBounds: a hostile chain is refused as a malformed
// object (too many links, a link without URL or with another scheme,
// not a list); text bounds are node's (checked when a copy is saved).
func TestParseBasedOnBounds(t *testing.T) {
	link := map[string]any{"id": "https://a.example/r/x", "title": "x", "spdx": "CC0-1.0"}
	many := make([]any, node.MaxBasedOn+1)
	for i := range many {
		many[i] = link
	}
	for name, v := range map[string]any{
		"too many links":    many,
		"no url":            []any{map[string]any{"title": "x"}},
		"javascript url":    []any{map[string]any{"id": "javascript:alert(1)", "title": "x"}},
		"a string":          "https://a.example/r/x",
		"too many authors":  []any{map[string]any{"id": "https://a.example/r/x", "title": "x", "authors": make([]any, 11)}},
		"a link not object": []any{"https://a.example/r/x"},
	} {
		if _, err := parseBasedOn(map[string]any{keyBasedOn: v}); !errors.Is(err, errBadActivity) {
			t.Errorf("%s: %v, want a malformed activity", name, err)
		}
	}
	if got, err := parseBasedOn(map[string]any{keyBasedOn: []any{link}}); err != nil || len(got) != 1 {
		t.Errorf("one good link: %v, %v", got, err)
	}
	// Text beyond node's bounds is refused when the copy is validated.
	long := node.Resource{ID: "x", Metadata: node.Metadata{Title: "x", Kind: "tutorial", License: "CC0-1.0", Language: "fr"},
		BasedOn: []node.Source{{URL: "https://a.example/r/x", Title: strings.Repeat("é", 201), License: "CC0-1.0"}}}
	if err := long.Validate(); !errors.Is(err, node.ErrInvalid) {
		t.Errorf("a 201-character source title: %v, want ErrInvalid", err)
	}
}
