package search

import (
	"errors"
	"slices"
	"testing"

	"github.com/communs-numerique/communs/node"
)

func TestNormalize(t *testing.T) {
	for _, c := range []struct {
		name string
		in   node.Query
		want node.Query
	}{
		{"defaults", node.Query{Text: " x "}, node.Query{Text: "x", Sort: SortRelevance, Page: 1, PerPage: DefaultPerPage}},
		{"browse sorts newest", node.Query{Sort: SortRelevance}, node.Query{Sort: SortNewest, Page: 1, PerPage: DefaultPerPage}},
		{"per page capped", node.Query{Text: "x", PerPage: 500, Page: 3}, node.Query{Text: "x", Sort: SortRelevance, Page: 3, PerPage: MaxPerPage}},
		{"negative page", node.Query{Text: "x", Page: -2, PerPage: -1}, node.Query{Text: "x", Sort: SortRelevance, Page: 1, PerPage: DefaultPerPage}},
		{"filters cleaned", node.Query{Text: "x", Filters: map[string][]string{"kind": {"a", "a", "b"}, "hub": {}}},
			node.Query{Text: "x", Sort: SortRelevance, Page: 1, PerPage: DefaultPerPage, Filters: map[string][]string{"kind": {"a", "b"}}}},
	} {
		got, err := Normalize(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.Text != c.want.Text || got.Sort != c.want.Sort || got.Page != c.want.Page || got.PerPage != c.want.PerPage || len(got.Filters) != len(c.want.Filters) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
		for f, v := range c.want.Filters {
			if !slices.Equal(got.Filters[f], v) {
				t.Errorf("%s: filter %s = %v, want %v", c.name, f, got.Filters[f], v)
			}
		}
	}
	for _, q := range []node.Query{
		{Filters: map[string][]string{"color": {"x"}}},
		{Sort: "oldest"},
		{Page: MaxOffset/10 + 2, PerPage: 10},
	} {
		if _, err := Normalize(q); !errors.Is(err, node.ErrInvalid) {
			t.Errorf("Normalize(%+v) = %v, want ErrInvalid", q, err)
		}
	}
	if _, err := Normalize(node.Query{Page: MaxOffset/10 + 1, PerPage: 10}); err != nil {
		t.Errorf("the page ending at MaxOffset must be allowed: %v", err)
	}
}

func TestMarkHTML(t *testing.T) {
	for _, c := range []struct {
		text  string
		spans []Span
		want  string
	}{
		{"a <b> & c", nil, "a &lt;b&gt; &amp; c"},
		{"Sécurité & co", []Span{{0, 10}}, "<mark>Sécurité</mark> &amp; co"},
		{"un deux trois", []Span{{8, 13}, {0, 2}}, "<mark>un</mark> deux <mark>trois</mark>"},
		{"overlap", []Span{{0, 4}, {2, 7}}, "<mark>overlap</mark>"},
		{"clip", []Span{{2, 99}, {-5, 1}, {3, 3}}, "<mark>c</mark>l<mark>ip</mark>"},
		{"<x>", []Span{{0, 3}}, "<mark>&lt;x&gt;</mark>"},
	} {
		if got := MarkHTML(c.text, c.spans); got != c.want {
			t.Errorf("MarkHTML(%q, %v) = %q, want %q", c.text, c.spans, got, c.want)
		}
	}
}

func TestTaggedToHTML(t *testing.T) {
	const pre, post = "\uE000", "\uE001"
	for in, want := range map[string]string{
		"<script> " + pre + "Sécurité" + post + " & co":    "&lt;script&gt; <mark>Sécurité</mark> &amp; co",
		pre + "a" + post + " " + pre + "b" + post:          "<mark>a</mark> <mark>b</mark>",
		"stray " + post + "close and " + pre + "open only": "stray close and open only",
		pre + post + "empty":                               "empty",
		"no tags <i>":                                      "no tags &lt;i&gt;",
	} {
		if got := TaggedToHTML(in, pre, post); got != want {
			t.Errorf("TaggedToHTML(%q) = %q, want %q", in, got, want)
		}
	}
	if got := TaggedToHTML("<b>", "", ""); got != "&lt;b&gt;" {
		t.Errorf("empty markers: %q", got)
	}
}

func TestSortCounts(t *testing.T) {
	fc := []node.FacetCount{{Value: "b", Count: 1}, {Value: "a", Count: 3}, {Value: "c", Count: 3}, {Value: "d", Count: 0}}
	SortCounts(fc)
	want := []node.FacetCount{{Value: "a", Count: 3}, {Value: "c", Count: 3}, {Value: "b", Count: 1}, {Value: "d", Count: 0}}
	if !slices.Equal(fc, want) {
		t.Errorf("SortCounts = %v, want %v", fc, want)
	}
}

func TestAttribute(t *testing.T) {
	if Attribute("theme") != "themes" || Attribute("kind") != "kind" {
		t.Error("theme is stored as themes, other facets under their own name")
	}
}
