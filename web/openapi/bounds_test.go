package openapi

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/node"
)

// TestBoundsMatchNode checks that the paging and query bounds the static
// document announces are node's constants, the ones the node enforces.
func TestBoundsMatchNode(t *testing.T) {
	type schema struct {
		Maximum   *int            `json:"maximum"`
		MaxLength *int            `json:"maxLength"`
		Default   json.RawMessage `json:"default"`
	}
	type param struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Schema      schema `json:"schema"`
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]schema `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(Document(), &doc); err != nil {
		t.Fatal(err)
	}
	params := func(path string) map[string]param {
		var op struct {
			Parameters []param `json:"parameters"`
		}
		if err := json.Unmarshal(doc.Paths[path]["get"], &op); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		m := map[string]param{}
		for _, p := range op.Parameters {
			m[p.Name] = p
		}
		return m
	}
	eq := func(what string, got *int, want int) {
		t.Helper()
		if got == nil || *got != want {
			t.Errorf("%s: document says %v, node says %d", what, got, want)
		}
	}
	s := params("/api/v1/search")
	eq("search q maxLength", s["q"].Schema.MaxLength, node.MaxQueryLen)
	eq("search page maximum", s["page"].Schema.Maximum, node.MaxPage)
	eq("search per_page maximum", s["per_page"].Schema.Maximum, node.MaxPerPage)
	def := func(what string, got json.RawMessage, want int) {
		t.Helper()
		if string(got) != strconv.Itoa(want) {
			t.Errorf("%s: document says %s, node says %d", what, got, want)
		}
	}
	def("search per_page default", s["per_page"].Schema.Default, node.DefaultPerPage)
	if d := s["page"].Description; !strings.Contains(d, strconv.Itoa(node.MaxSearchOffset)+"th") {
		t.Errorf("search page description %q does not state the %d-hit window", d, node.MaxSearchOffset)
	}
	if d := s["q"].Description; !strings.Contains(d, strconv.Itoa(node.MaxQueryLen)+" bytes") {
		t.Errorf("search q description %q does not state %d bytes", d, node.MaxQueryLen)
	}
	l := params("/api/v1/resources")
	eq("resources limit maximum", l["limit"].Schema.Maximum, node.MaxPerPage)
	def("resources limit default", l["limit"].Schema.Default, node.DefaultPerPage)
	if d := l["limit"].Description; !strings.Contains(d, "1 to "+strconv.Itoa(node.MaxPerPage)) {
		t.Errorf("resources limit description %q does not state 1 to %d", d, node.MaxPerPage)
	}
	eq("SearchResults per_page maximum", doc.Components.Schemas["SearchResults"].Properties["per_page"].Maximum, node.MaxPerPage)
}
