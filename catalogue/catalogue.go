// Package catalogue describes the hub for open-data portals: a DCAT-AP
// catalogue in JSON-LD at /catalogue.jsonld, the hub as a dcat:Catalog and
// each local resource as a dcat:Dataset with one dcat:Distribution per
// file. Harvesters such as data.gouv.fr's DCAT harvester and CKAN's
// ckanext-dcat follow its Hydra paging (hydra:PartialCollectionView with
// first, previous, next, last).
//
// Like oaipmh and federation it is an edge that reads node's catalog.
// Remote copies are left out: their origin hub's catalogue describes them.
package catalogue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Catalog is what the catalogue reads: the local resources, and the change
// feed's last sequence, which tells when its page index is stale.
// storage/catalog implements it; web mounts the catalogue on the
// catalog internal/app gives it.
type Catalog interface {
	List(ctx context.Context, opt node.ListOptions) ([]node.Resource, string, error)
	LastSeq(ctx context.Context) (uint64, error)
}

// Config configures the catalogue.
type Config struct {
	Catalog     Catalog
	PublicURL   string // without a trailing slash
	Name        string // the hub's display name
	Description string
	// Label names a vocabulary entry for people ("theme.cybersecurite");
	// nil or an empty answer falls back to the slug.
	Label  func(key string) string
	Logger *slog.Logger
}

// Handler serves GET /catalogue.jsonld?page=N.
type Handler struct {
	cfg  Config
	base string
	log  *slog.Logger

	mu  sync.Mutex
	idx *pageIndex
}

// PageSize is the number of datasets per page.
var PageSize = 100

// pageIndex maps page numbers to catalog cursors for one state of the
// catalog (its change feed's last sequence): one string per page, so its
// memory is a hundredth of the catalog's size in cursors, and a page is
// one read of PageSize resources.
type pageIndex struct {
	seq      uint64
	starts   []string // starts[i] is the cursor before page i+1
	total    int
	modified time.Time
}

// New returns the handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Name == "" {
		cfg.Name = "Communs"
	}
	return &Handler{cfg: cfg, base: strings.TrimRight(cfg.PublicURL, "/"), log: cfg.Logger}
}

func (h *Handler) index(ctx context.Context) (*pageIndex, error) {
	seq, err := h.cfg.Catalog.LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.idx != nil && h.idx.seq == seq {
		return h.idx, nil
	}
	idx := &pageIndex{seq: seq, starts: []string{""}}
	after := ""
	for {
		rs, next, err := h.cfg.Catalog.List(ctx, node.ListOptions{After: after, Limit: PageSize, Origin: "local"})
		if err != nil {
			return nil, fmt.Errorf("index catalogue pages: %w", err)
		}
		idx.total += len(rs)
		for i := range rs {
			if rs[i].Updated.After(idx.modified) {
				idx.modified = rs[i].Updated
			}
		}
		if next == "" {
			break
		}
		idx.starts = append(idx.starts, next)
		after = next
	}
	h.idx = idx
	return idx, nil
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(e)
}

// ServeHTTP answers one page of the catalogue.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, err := parsePage(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	idx, err := h.index(r.Context())
	if err != nil {
		h.log.Error("catalogue", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the catalogue cannot be read right now; retry later")
		return
	}
	last := len(idx.starts)
	if page > last {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("page %d does not exist: the catalogue has %d page(s) of %d datasets", page, last, PageSize))
		return
	}
	rs, _, err := h.cfg.Catalog.List(r.Context(), node.ListOptions{After: idx.starts[page-1], Limit: PageSize, Origin: "local"})
	if err != nil {
		h.log.Error("catalogue", "page", page, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the catalogue cannot be read right now; retry later")
		return
	}
	doc := h.document(rs, page, last, idx)
	w.Header().Set("Content-Type", "application/ld+json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		h.log.Warn("catalogue: write", "err", err)
	}
}

// parsePage reads the page number (1 when absent). Other arguments are
// ignored: harvesters add their own (cache busters).
func parsePage(rawQuery string) (int, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, fmt.Errorf("the query string is malformed")
	}
	vals, ok := q["page"]
	if !ok {
		return 1, nil
	}
	n, err := strconv.Atoi(vals[0])
	if len(vals) != 1 || err != nil || n < 1 || n > 1<<24 {
		return 0, fmt.Errorf("page must be one page number from 1 (got %s)", strconv.Quote(clip(strings.Join(vals, ","))))
	}
	return n, nil
}

// clip shortens a value quoted back in an error, on a character boundary.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 40
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// Vocabularies.
const (
	nsDCAT  = "http://www.w3.org/ns/dcat#"
	nsDCT   = "http://purl.org/dc/terms/"
	nsFOAF  = "http://xmlns.com/foaf/0.1/"
	nsSPDX  = "http://spdx.org/rdf/terms#"
	nsHydra = "http://www.w3.org/ns/hydra/core#"
	nsSKOS  = "http://www.w3.org/2004/02/skos/core#"
	nsVCard = "http://www.w3.org/2006/vcard/ns#"
	nsXSD   = "http://www.w3.org/2001/XMLSchema#"

	euLanguage  = "http://publications.europa.eu/resource/authority/language/"
	euDataTheme = "http://publications.europa.eu/resource/authority/data-theme"
	// EDUC (education, culture and sport) is the EU data theme of
	// training material; DCAT-AP asks for a theme from that vocabulary.
	euThemeEDUC = euDataTheme + "/EDUC"
	ianaMedia   = "http://www.iana.org/assignments/media-types/"
	sha256Algo  = nsSPDX + "checksumAlgorithm_sha256"
)

// euLanguages maps ISO 639-1 to the EU language authority (ISO 639-3
// based codes). A language missing here is left out rather than guessed.
var euLanguages = map[string]string{
	"fr": "FRA", "en": "ENG", "de": "DEU", "es": "SPA", "it": "ITA", "pt": "POR", "nl": "NLD",
	"br": "BRE", "oc": "OCI", "co": "COS", "eu": "EUS", "ca": "CAT", "ar": "ARA", "pl": "POL",
	"ro": "RON", "tr": "TUR", "ru": "RUS", "uk": "UKR", "zh": "ZHO", "vi": "VIE", "wo": "WOL",
}

type obj = map[string]any

func id(iri string) obj                 { return obj{"@id": iri} }
func lit(v, lang string) obj            { return obj{"@value": v, "@language": lang} }
func typed(v string, typ string) obj    { return obj{"@value": v, "@type": "xsd:" + typ} }
func dateTime(t time.Time) obj          { return typed(t.UTC().Format(time.RFC3339), "dateTime") }
func (h *Handler) pageURL(n int) string { return h.base + paths.Catalogue + "?page=" + strconv.Itoa(n) }
func (h *Handler) agentID() string      { return h.base + "/#hub" }
func (h *Handler) schemeID() string     { return h.base + paths.Catalogue + "#themes" }
func (h *Handler) themeID(t string) string {
	return h.base + paths.Catalogue + "#theme-" + t
}

func (h *Handler) label(key, fallback string) string {
	if h.cfg.Label != nil {
		if l := h.cfg.Label(key); l != "" && l != key {
			return l
		}
	}
	return fallback
}

func (h *Handler) document(rs []node.Resource, page, last int, idx *pageIndex) obj {
	graph := []any{}
	datasets := make([]any, 0, len(rs))
	for i := range rs {
		datasets = append(datasets, id(paths.Base(h.base).Resource(rs[i].ID)))
	}
	desc := h.cfg.Description
	if desc == "" {
		desc = "Ressources sous licence ouverte partagées par " + h.cfg.Name + " : tutoriels, kits d'atelier, modules de formation et guides de la médiation numérique."
	}
	modified := idx.modified
	if modified.IsZero() {
		modified = time.Now()
	}
	catalog := obj{
		"@id":                h.base + paths.Catalogue,
		"@type":              "dcat:Catalog",
		"dct:title":          lit(h.cfg.Name, "fr"),
		"dct:description":    lit(desc, "fr"),
		"dct:publisher":      id(h.agentID()),
		"foaf:homepage":      id(h.base + "/"),
		"dct:language":       id(euLanguage + "FRA"),
		"dcat:themeTaxonomy": []any{id(h.schemeID()), id(euDataTheme)},
		"dct:modified":       dateTime(modified),
		"dcat:dataset":       datasets,
	}
	graph = append(graph, catalog, obj{
		"@id":           h.agentID(),
		"@type":         []string{"foaf:Agent", "foaf:Organization"},
		"foaf:name":     lit(h.cfg.Name, "fr"),
		"foaf:homepage": id(h.base + "/"),
	})
	graph = append(graph, obj{"@id": h.schemeID(), "@type": "skos:ConceptScheme", "skos:prefLabel": lit("Thèmes de la médiation numérique ("+h.cfg.Name+")", "fr")})
	for _, t := range node.Themes {
		graph = append(graph, obj{"@id": h.themeID(t), "@type": "skos:Concept", "skos:prefLabel": lit(h.label("theme."+t, t), "fr"),
			"skos:notation": t, "skos:inScheme": id(h.schemeID())})
	}
	for i := range rs {
		graph = append(graph, h.dataset(&rs[i]))
	}
	view := obj{
		"@id":                h.pageURL(page),
		"@type":              "hydra:PartialCollectionView",
		"hydra:first":        id(h.pageURL(1)),
		"hydra:last":         id(h.pageURL(last)),
		"hydra:totalItems":   typed(strconv.Itoa(idx.total), "nonNegativeInteger"),
		"hydra:itemsPerPage": typed(strconv.Itoa(PageSize), "nonNegativeInteger"),
	}
	if page > 1 {
		view["hydra:previous"] = id(h.pageURL(page - 1))
	}
	if page < last {
		view["hydra:next"] = id(h.pageURL(page + 1))
	}
	graph = append(graph, view)
	return obj{
		"@context": obj{
			"dcat": nsDCAT, "dct": nsDCT, "foaf": nsFOAF, "spdx": nsSPDX, "hydra": nsHydra,
			"skos": nsSKOS, "vcard": nsVCard, "xsd": nsXSD,
		},
		"@graph": graph,
	}
}

func (h *Handler) dataset(r *node.Resource) obj {
	landing := paths.Base(h.base).Resource(r.ID)
	lang := r.Language
	if lang == "" {
		lang = "fr"
	}
	desc := r.Summary
	if desc == "" {
		desc = r.Title
	}
	d := obj{
		"@id":              landing,
		"@type":            "dcat:Dataset",
		"dct:title":        lit(r.Title, lang),
		"dct:description":  lit(desc, lang),
		"dct:identifier":   landing,
		"dcat:landingPage": id(landing),
		"dct:publisher":    id(h.agentID()),
		"dct:modified":     dateTime(r.Updated),
		"dcat:contactPoint": obj{
			"@type":        "vcard:Organization",
			"vcard:fn":     h.cfg.Name,
			"vcard:hasURL": id(h.base + "/"),
		},
	}
	if r.Published != "" {
		d["dct:issued"] = typed(r.Published, "date")
	} else {
		d["dct:issued"] = dateTime(r.Created)
	}
	if code, ok := euLanguages[lang]; ok {
		d["dct:language"] = id(euLanguage + code)
	}
	licence, hasLicence := node.LookupLicense(r.License)
	if hasLicence {
		d["dct:license"] = id(licence.URL)
	}
	// An adaptation's attribution chain, oldest first (DCAT-AP
	// dct:source: "a related Dataset from which the described Dataset is
	// derived").
	if len(r.BasedOn) > 0 {
		sources := []any{}
		for _, src := range r.BasedOn {
			sources = append(sources, id(src.URL))
		}
		d["dct:source"] = sources
	}
	keywords := []any{}
	themes := []any{id(euThemeEDUC)}
	for _, t := range r.Themes {
		keywords = append(keywords, lit(h.label("theme."+t, t), "fr"))
		themes = append(themes, id(h.themeID(t)))
	}
	if r.Kind != "" {
		keywords = append(keywords, lit(h.label("kind."+r.Kind, r.Kind), "fr"))
	}
	d["dcat:keyword"] = keywords
	d["dcat:theme"] = themes
	creators := []any{}
	for _, a := range r.Authors {
		creators = append(creators, obj{"@type": "foaf:Agent", "foaf:name": a})
	}
	if len(creators) > 0 {
		d["dct:creator"] = creators
	}
	dists := []any{}
	for _, f := range r.Files {
		download := paths.Base(h.base).File(r.ID, f.Name)
		dist := obj{
			"@id":              landing + "#file-" + url.PathEscape(f.Name),
			"@type":            "dcat:Distribution",
			"dct:title":        f.Name,
			"dcat:accessURL":   id(download),
			"dcat:downloadURL": id(download),
			"dcat:byteSize":    typed(strconv.FormatInt(max(f.Size, 0), 10), "nonNegativeInteger"),
		}
		if !f.Added.IsZero() {
			dist["dct:issued"] = dateTime(f.Added)
		}
		if mt := mediaType(f.MediaType); mt != "" {
			dist["dcat:mediaType"] = id(ianaMedia + mt)
		}
		if sha256Re.MatchString(f.SHA256) {
			dist["spdx:checksum"] = obj{
				"@type":              "spdx:Checksum",
				"spdx:algorithm":     id(sha256Algo),
				"spdx:checksumValue": typed(f.SHA256, "hexBinary"),
			}
		}
		if hasLicence {
			dist["dct:license"] = id(licence.URL)
		}
		dists = append(dists, dist)
	}
	d["dcat:distribution"] = dists
	return d
}

var (
	sha256Re    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	mediaTypeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$`)
)

// mediaType returns type/subtype without parameters, or "" when it is not
// one IANA could register.
func mediaType(s string) string {
	mt, _, err := mime.ParseMediaType(s)
	if err != nil || !mediaTypeRe.MatchString(mt) {
		return ""
	}
	return mt
}
