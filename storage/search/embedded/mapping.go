package embedded

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/communs-numerique/communs/internal/text"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/storage/search"
)

// schemaVersion is stored in the index. Open recreates an index written with
// another version: the index is derived data, and matching a query analysed
// one way against documents analysed another way gives silently wrong
// results.
const schemaVersion = "communs-embedded-9"

// Field names. The language-analysed fields carry exact and stemmed matches
// with per-field weights; the raw fields hold the same words unstemmed for
// typo and prefix matching, split in three so a typo in a title still
// outranks one in a summary, and that one a typo in a description.
const (
	fieldTitle       = "title"
	fieldSummary     = "summary"
	fieldDescription = "description"
	fieldTitleRaw    = "title_raw"
	fieldHeadRaw     = "head_raw"
	fieldBodyRaw     = "body_raw"
	fieldPairs       = "pairs"
	fieldSortKey     = "sortkey"
	fieldSource      = "src"
)

// document is what bleve indexes. Type picks the per-language mapping, which
// is how an English resource gets English stemming and stop words while a
// French one gets French elision and plurals, in the same fields.
type document struct {
	lang        string
	Title       string   `json:"title"`
	Summary     string   `json:"summary"`
	Tags        string   `json:"tags"`
	Description string   `json:"description"`
	Kind        string   `json:"kind"`
	Themes      []string `json:"themes"`
	Audience    []string `json:"audience"`
	Level       string   `json:"level"`
	License     string   `json:"license"`
	Language    string   `json:"language"`
	Hub         string   `json:"hub"`
	Org         []string `json:"organisation"` // none when empty: no "" facet value
	SortKey     string   `json:"sortkey"`
	Source      string   `json:"src"`
}

func (d *document) Type() string { return d.lang }

// stored is the part of a resource a hit needs, kept as one stored field so
// a page of hits costs one stored-field read per hit and no second lookup.
type stored struct {
	node.Hit
	Description string `json:"description,omitempty"`
}

// docLanguage maps a resource language to an analysis language. Resources
// in languages other than English get the French chain: the node serves
// French hubs, and folding, elision and lower-casing still help.
func docLanguage(lang string) string {
	if lang == "en" {
		return "en"
	}
	return "fr"
}

func newDocument(r node.Resource) (*document, error) {
	desc := text.PlainText(r.Description)
	src, err := json.Marshal(stored{
		Hit: node.Hit{
			ID: r.ID, Title: r.Title, Summary: r.Summary, Kind: r.Kind, Themes: r.Themes,
			Audience: r.Audience, Level: r.Level, License: r.License, Language: r.Language,
			Hub: r.Hub, Published: r.Published, Organisation: r.Organisation,
		},
		Description: desc,
	})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", r.ID, err)
	}
	tags := make([]string, 0, len(r.Themes)+len(r.Authors))
	for _, t := range r.Themes {
		tags = append(tags, strings.ReplaceAll(t, "-", " "))
	}
	tags = append(tags, r.Authors...)
	if fw := search.FileWords(r); fw != "" {
		tags = append(tags, fw)
	}
	return &document{
		lang:        docLanguage(r.Language),
		Title:       r.Title,
		Summary:     r.Summary,
		Tags:        strings.Join(tags, " ; "),
		Description: desc,
		Kind:        r.Kind,
		Themes:      r.Themes,
		Audience:    r.Audience,
		Level:       r.Level,
		License:     r.License,
		Language:    r.Language,
		Hub:         r.Hub,
		Org:         nonEmpty(r.Organisation),
		SortKey:     newestKey(r.Published, r.ID),
		Source:      string(src),
	}, nil
}

// newestKey sorts ascending in "newest first, then id" order, so the newest
// sort is a single doc-value sort: digits of the date are complemented (9-d)
// and the id follows. A missing date sorts last.
func newestKey(published, id string) string {
	if published == "" {
		published = "0000-00-00"
	}
	b := []byte(published)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '9' - (c - '0')
		}
	}
	return string(b) + " " + id
}

func newMapping() *mapping.IndexMappingImpl {
	im := mapping.NewIndexMapping()
	im.DefaultAnalyzer = analyzerFR
	im.DefaultType = "fr"
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	im.DefaultMapping = documentMapping(analyzerFR, analyzerFRPairs)
	im.AddDocumentMapping("fr", documentMapping(analyzerFR, analyzerFRPairs))
	im.AddDocumentMapping("en", documentMapping(analyzerEN, analyzerENPairs))
	return im
}

func documentMapping(analyzer, pairs string) *mapping.DocumentMapping {
	text := func(name, analyzer string) *mapping.FieldMapping {
		fm := mapping.NewTextFieldMapping()
		fm.Name = name
		fm.Analyzer = analyzer
		fm.Store = false
		fm.IncludeTermVectors = false
		fm.IncludeInAll = false
		fm.DocValues = false
		return fm
	}
	keyword := func() *mapping.FieldMapping {
		fm := mapping.NewKeywordFieldMapping()
		fm.Store = false
		fm.IncludeTermVectors = false
		fm.IncludeInAll = false
		// Facets and the newest order are read from the terms' postings
		// once per segment (segcache.go), so no doc values are kept.
		fm.DocValues = false
		fm.SkipFreqNorm = true
		return fm
	}
	dm := mapping.NewDocumentStaticMapping()
	dm.DefaultAnalyzer = analyzer
	// Word pairs of titles and summaries only: that is where words typed
	// together matter, and descriptions would double the dictionary.
	dm.AddFieldMappingsAt("title", text(fieldTitle, analyzer), text(fieldTitleRaw, analyzerRaw), text(fieldPairs, pairs))
	dm.AddFieldMappingsAt("summary", text(fieldSummary, analyzer), text(fieldHeadRaw, analyzerRaw), text(fieldPairs, pairs))
	// Themes and authors are searched with the summary: one clause less per
	// word, and a theme is a summary of the resource in a word or two.
	dm.AddFieldMappingsAt("tags", text(fieldSummary, analyzer), text(fieldHeadRaw, analyzerRaw))
	dm.AddFieldMappingsAt("description", text(fieldDescription, analyzer), text(fieldBodyRaw, analyzerRaw))
	for _, f := range []string{"kind", "themes", "audience", "level", "license", "language", "hub", "organisation", fieldSortKey} {
		dm.AddFieldMappingsAt(f, keyword())
	}
	src := mapping.NewTextFieldMapping()
	src.Index = false
	src.Store = true
	src.IncludeTermVectors = false
	src.IncludeInAll = false
	src.DocValues = false
	dm.AddFieldMappingsAt(fieldSource, src)
	return dm
}

func nonEmpty(v string) []string {
	if v == "" {
		return nil
	}
	return []string{v}
}
