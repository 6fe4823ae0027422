package oaipmh_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
	"github.com/communs-numerique/communs/oaipmh"
)

// answer is what the tests read of an OAI-PMH response.
type answer struct {
	XMLName xml.Name `xml:"OAI-PMH"`
	Request struct {
		Verb  string     `xml:"verb,attr"`
		Attrs []xml.Attr `xml:",any,attr"`
		URL   string     `xml:",chardata"`
	} `xml:"request"`
	Errors []struct {
		Code string `xml:"code,attr"`
		Text string `xml:",chardata"`
	} `xml:"error"`
	Identify *struct {
		RepositoryName    string `xml:"repositoryName"`
		BaseURL           string `xml:"baseURL"`
		DeletedRecord     string `xml:"deletedRecord"`
		Granularity       string `xml:"granularity"`
		EarliestDatestamp string `xml:"earliestDatestamp"`
	} `xml:"Identify"`
	Formats []string `xml:"ListMetadataFormats>metadataFormat>metadataPrefix"`
	Sets    []string `xml:"ListSets>set>setSpec"`
	Get     *record  `xml:"GetRecord>record"`
	Records []record `xml:"ListRecords>record"`
	Headers []header `xml:"ListIdentifiers>header"`
	Tokens  []token  `xml:"ListRecords>resumptionToken"`
	ITokens []token  `xml:"ListIdentifiers>resumptionToken"`
}

type header struct {
	Status     string   `xml:"status,attr"`
	Identifier string   `xml:"identifier"`
	Datestamp  string   `xml:"datestamp"`
	SetSpecs   []string `xml:"setSpec"`
}

type record struct {
	Header header `xml:"header"`
	DC     *struct {
		Title      []string `xml:"title"`
		Creator    []string `xml:"creator"`
		Subject    []string `xml:"subject"`
		Publisher  []string `xml:"publisher"`
		Type       []string `xml:"type"`
		Format     []string `xml:"format"`
		Identifier []string `xml:"identifier"`
		Language   []string `xml:"language"`
		Rights     []string `xml:"rights"`
		Source     []string `xml:"source"`
		Date       []string `xml:"date"`
	} `xml:"metadata>dc"`
}

type token struct {
	Value            string `xml:",chardata"`
	Cursor           string `xml:"cursor,attr"`
	CompleteListSize string `xml:"completeListSize,attr"`
	ExpirationDate   string `xml:"expirationDate,attr"`
}

// hub is a node with local resources, a deleted one and a remote copy.
type hub struct {
	n   *testnode.Node
	oai string
	ids []string // live local resources
}

func startHub(t *testing.T) *hub {
	t.Helper()
	n := testnode.Start(t, testnode.Options{Hub: "hinaura"})
	ctx := context.Background()
	h := &hub{n: n, oai: n.URL + "/oai"}
	kinds := []string{"workshop-kit", "tutorial", "workshop-kit", "practical-sheet", "training-module", "workshop-kit", "tutorial"}
	for i, k := range kinds {
		themes := []string{"smartphone"}
		if i%2 == 0 {
			themes = []string{"cybersecurite", "donnees-personnelles"}
		}
		r := node.Resource{Metadata: node.Metadata{Title: "Kit numéro " + string(rune('A'+i)) + " <sûr> & \"libre\"", Summary: "Résumé du kit " + string(rune('A'+i)),
			Kind: k, Themes: themes, License: "CC-BY-SA-4.0", Language: "fr", Authors: []string{"Marie Curie", "Hub <Hinaura>"}, Published: "2025-10-0" + string(rune('1'+i%9))}}
		files := func(yield func(node.Upload) error) error {
			return yield(node.Upload{Name: "guide.pdf", MediaType: "application/pdf", Body: strings.NewReader("%PDF-1.4 kit " + k), Size: -1})
		}
		got, err := n.Service.Publish(ctx, r, files, false)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		h.ids = append(h.ids, got.ID)
	}
	// A deleted resource is reported as deleted; a remote copy is not ours.
	gone, err := n.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Kit retiré", Kind: "tutorial", License: "CC0-1.0", Language: "fr"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Service.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	remote := node.Resource{ID: "copie-distante-0a1b2c3d", Metadata: node.Metadata{Title: "Copie distante", Kind: "tutorial", License: "CC0-1.0", Language: "fr"},
		Origin: "https://hub.example.org/r/copie", Created: time.Now().UTC(), Updated: time.Now().UTC()}
	if err := n.Catalog.Create(ctx, remote); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *hub) host(t *testing.T) string {
	u, _ := url.Parse(h.n.URL)
	return u.Hostname()
}

// get sends a GET with a raw query, validates the answer against the
// schemas and decodes it.
func get(t *testing.T, base, rawQuery string) answer {
	t.Helper()
	resp, err := http.Get(base + "?" + rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp, rawQuery)
}

func post(t *testing.T, base, body string) answer {
	t.Helper()
	resp, err := http.Post(base, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp, "POST "+body)
}

func read(t *testing.T, resp *http.Response, what string) answer {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("%s: content type %q", what, ct)
	}
	validate(t, what, body)
	var a answer
	if err := xml.Unmarshal(body, &a); err != nil {
		t.Fatalf("%s: decode: %v\n%s", what, err, body)
	}
	return a
}

// validate runs xmllint with the official schemas (testdata/schemas). It
// fails under CI when xmllint is missing and skips with the reason
// otherwise.
func validate(t *testing.T, what string, body []byte) {
	t.Helper()
	bin, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("xmllint is missing (Debian package libxml2-utils, make test-deps): the answers cannot be validated")
		}
		t.Skip("xmllint missing (apt-get install libxml2-utils, or make test-deps): schema validation skipped")
	}
	f := filepath.Join(t.TempDir(), "answer.xml")
	if err := os.WriteFile(f, body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--noout", "--nonet", "--schema", filepath.Join("testdata", "schemas", "all.xsd"), f).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: the answer does not validate against OAI-PMH.xsd/oai_dc.xsd: %v\n%s\n%s", what, err, out, body)
	}
}

func TestVerbsValidate(t *testing.T) {
	h := startHub(t)
	host := h.host(t)
	first := "oai:" + host + ":" + h.ids[0]

	a := get(t, h.oai, "verb=Identify")
	if a.Identify == nil || a.Identify.BaseURL != h.oai || a.Identify.DeletedRecord != "persistent" || a.Identify.Granularity != "YYYY-MM-DDThh:mm:ssZ" {
		t.Fatalf("Identify: %+v", a.Identify)
	}
	if a.Request.Verb != "Identify" || a.Request.URL != h.oai {
		t.Errorf("request echo: %+v", a.Request)
	}

	earliest := a.Identify.EarliestDatestamp
	a = get(t, h.oai, "verb=ListIdentifiers&metadataPrefix=oai_dc")
	for _, hd := range a.Headers {
		if hd.Datestamp < earliest {
			t.Errorf("%s has datestamp %s before earliestDatestamp %s", hd.Identifier, hd.Datestamp, earliest)
		}
	}

	a = get(t, h.oai, "verb=ListMetadataFormats")
	if !slices.Equal(a.Formats, []string{"oai_dc"}) {
		t.Errorf("formats: %v", a.Formats)
	}
	a = get(t, h.oai, "verb=ListMetadataFormats&identifier="+url.QueryEscape(first))
	if !slices.Equal(a.Formats, []string{"oai_dc"}) {
		t.Errorf("formats of %s: %v", first, a.Formats)
	}

	a = get(t, h.oai, "verb=ListSets")
	for _, want := range []string{"kind", "kind:workshop-kit", "theme", "theme:cybersecurite"} {
		if !slices.Contains(a.Sets, want) {
			t.Errorf("ListSets lacks %s: %v", want, a.Sets)
		}
	}

	a = get(t, h.oai, "verb=GetRecord&metadataPrefix=oai_dc&identifier="+url.QueryEscape(first))
	if a.Get == nil || a.Get.DC == nil {
		t.Fatalf("GetRecord: %+v", a)
	}
	dc := a.Get.DC
	r, _ := h.n.Service.Get(context.Background(), h.ids[0])
	checks := []struct {
		name      string
		got, want []string
	}{
		{"title", dc.Title, []string{r.Title}},
		{"creator", dc.Creator, r.Authors},
		{"subject", dc.Subject, r.Themes},
		{"type", dc.Type, []string{r.Kind}},
		{"format", dc.Format, []string{"application/pdf"}},
		{"identifier", dc.Identifier, []string{h.n.URL + "/r/" + r.ID}},
		{"language", dc.Language, []string{"fr"}},
		{"rights", dc.Rights, []string{"https://creativecommons.org/licenses/by-sa/4.0/deed.fr"}},
		{"date", dc.Date, []string{r.Published}},
		{"publisher", dc.Publisher, []string{"Communs"}},
	}
	for _, c := range checks {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("dc:%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !slices.Contains(a.Get.Header.SetSpecs, "kind:workshop-kit") || !slices.Contains(a.Get.Header.SetSpecs, "theme:cybersecurite") {
		t.Errorf("setSpecs: %v", a.Get.Header.SetSpecs)
	}

	// The deleted resource answers a deleted header, the remote copy
	// nothing: it belongs to its origin's repository.
	a = get(t, h.oai, "verb=ListIdentifiers&metadataPrefix=oai_dc")
	var deleted []string
	for _, hd := range a.Headers {
		if hd.Status == "deleted" {
			deleted = append(deleted, hd.Identifier)
		}
		if strings.Contains(hd.Identifier, "copie-distante") {
			t.Errorf("remote copy listed: %s", hd.Identifier)
		}
	}
	if len(deleted) != 1 || len(a.Headers) != len(h.ids)+1 {
		t.Fatalf("ListIdentifiers: %d headers, deleted %v", len(a.Headers), deleted)
	}
	a = get(t, h.oai, "verb=GetRecord&metadataPrefix=oai_dc&identifier="+url.QueryEscape(deleted[0]))
	if a.Get == nil || a.Get.Header.Status != "deleted" || a.Get.DC != nil {
		t.Fatalf("GetRecord of a deleted record: %+v", a.Get)
	}
	a = get(t, h.oai, "verb=GetRecord&metadataPrefix=oai_dc&identifier="+url.QueryEscape("oai:"+host+":copie-distante-0a1b2c3d"))
	if len(a.Errors) != 1 || a.Errors[0].Code != "idDoesNotExist" {
		t.Fatalf("remote copy by GetRecord: %+v", a.Errors)
	}

	a = post(t, h.oai, "verb=ListRecords&metadataPrefix=oai_dc&set=kind%3Aworkshop-kit")
	if len(a.Records) != 3 {
		t.Fatalf("POST ListRecords set=kind:workshop-kit: %d records", len(a.Records))
	}
	for _, rec := range a.Records {
		if !slices.Equal(rec.DC.Type, []string{"workshop-kit"}) {
			t.Errorf("set kind:workshop-kit gave %v", rec.DC.Type)
		}
	}
	a = get(t, h.oai, "verb=ListRecords&metadataPrefix=oai_dc&set=theme:cybersecurite")
	if len(a.Records) != 4 {
		t.Errorf("set theme:cybersecurite: %d records, want 4", len(a.Records))
	}
}

// TestPagingWithTokens walks the whole list two records at a time and
// checks each record comes once, the cursor and completeListSize.
func TestPagingWithTokens(t *testing.T) {
	defer oaipmh.SetPageSize(2)()
	h := startHub(t)
	for _, verb := range []string{"ListRecords", "ListIdentifiers"} {
		seen := map[string]int{}
		q := "verb=" + verb + "&metadataPrefix=oai_dc"
		for page := 0; ; page++ {
			if page > 10 {
				t.Fatalf("%s: no end after 10 pages", verb)
			}
			a := get(t, h.oai, q)
			toks := a.Tokens
			ids := []string{}
			for _, r := range a.Records {
				ids = append(ids, r.Header.Identifier)
			}
			if verb == "ListIdentifiers" {
				toks = a.ITokens
				ids = ids[:0]
				for _, hd := range a.Headers {
					ids = append(ids, hd.Identifier)
				}
			}
			for _, id := range ids {
				seen[id]++
			}
			if len(toks) != 1 {
				t.Fatalf("%s page %d: %d resumptionToken elements", verb, page, len(toks))
			}
			tok := toks[0]
			if want := page * 2; tok.Cursor != itoa(want) {
				t.Errorf("%s page %d: cursor %s, want %d", verb, page, tok.Cursor, want)
			}
			if tok.CompleteListSize != itoa(len(h.ids)+1) {
				t.Errorf("%s page %d: completeListSize %q, want %d", verb, page, tok.CompleteListSize, len(h.ids)+1)
			}
			if tok.Value == "" {
				if tok.ExpirationDate != "" {
					t.Errorf("last page has an expirationDate")
				}
				break
			}
			if len(ids) != 2 {
				t.Errorf("%s page %d: %d items", verb, page, len(ids))
			}
			q = "verb=" + verb + "&resumptionToken=" + url.QueryEscape(tok.Value)
		}
		if len(seen) != len(h.ids)+1 {
			t.Errorf("%s: %d distinct records, want %d", verb, len(seen), len(h.ids)+1)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s: %s listed %d times", verb, id, n)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestDateSelection(t *testing.T) {
	h := startHub(t)
	now := time.Now().UTC()
	tomorrow := now.Add(24 * time.Hour).Format("2006-01-02")
	yesterday := now.Add(-24 * time.Hour).Format("2006-01-02")
	a := get(t, h.oai, "verb=ListIdentifiers&metadataPrefix=oai_dc&from="+yesterday+"&until="+tomorrow)
	if len(a.Headers) != len(h.ids)+1 {
		t.Errorf("from yesterday until tomorrow: %d headers", len(a.Headers))
	}
	a = get(t, h.oai, "verb=ListIdentifiers&metadataPrefix=oai_dc&from="+now.Add(-time.Hour).Format("2006-01-02T15:04:05Z"))
	if len(a.Headers) != len(h.ids)+1 {
		t.Errorf("from an hour ago (seconds): %d headers", len(a.Headers))
	}
	for _, q := range []string{"from=" + tomorrow, "until=" + yesterday, "until=2000-01-01T00:00:00Z"} {
		a = get(t, h.oai, "verb=ListRecords&metadataPrefix=oai_dc&"+q)
		if len(a.Errors) != 1 || a.Errors[0].Code != "noRecordsMatch" {
			t.Errorf("%s: want noRecordsMatch, got %+v", q, a.Errors)
		}
	}
}

// TestErrors sends bad requests: each is a 200 with its OAI-PMH error code,
// valid against the schema, with no argument echoed after badVerb or
// badArgument.
func TestErrors(t *testing.T) {
	h := startHub(t)
	host := h.host(t)
	cases := []struct{ query, code string }{
		{"", "badVerb"},
		{"verb=Frobnicate", "badVerb"},
		{"verb=Identify&verb=Identify", "badVerb"},
		{"verb=Identify&extra=1", "badArgument"},
		{"verb=ListRecords", "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc", "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&from=2025-13-45", "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&from=2025-01-01&until=2025-01-01T00:00:00Z", "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&from=2025-02-01&until=2025-01-01", "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&from=2025-01-01T00:00:00%2B01:00", "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&set=not%20a%20set", "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&resumptionToken=x", "badArgument"},
		{"verb=GetRecord&identifier=oai:" + host + ":x", "badArgument"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=not%20a%20uri", "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&bad=%ZZ", "badArgument"},
		{"verb=ListRecords&resumptionToken=bogus", "badResumptionToken"},
		{"verb=ListRecords&resumptionToken=eyJ2IjoxfQ.AAAAAAAAAAAA", "badResumptionToken"},
		{"verb=ListSets&resumptionToken=anything", "badResumptionToken"},
		{"verb=ListRecords&metadataPrefix=marc21", "cannotDisseminateFormat"},
		{"verb=GetRecord&metadataPrefix=mods&identifier=oai:" + host + ":" + h.ids[0], "cannotDisseminateFormat"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:" + host + ":nope", "idDoesNotExist"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:elsewhere.org:" + h.ids[0], "idDoesNotExist"},
		{"verb=ListMetadataFormats&identifier=oai:" + host + ":nope", "idDoesNotExist"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("oai:hûb.fr:kït"), "idDoesNotExist"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("oai:x:a#b#c"), "badArgument"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("oai:x:[y]"), "badArgument"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("oai:x:%zz"), "badArgument"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("oai:x:%4"), "badArgument"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("oai:x:a%20b?c=d&e#f"), "idDoesNotExist"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("1x:y"), "badArgument"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("urn:isbn:978-2-07-036822-8"), "idDoesNotExist"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("oai:x:a|b"), "badArgument"},
		{"verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape("oai:x:\u00e9\x00"), "badArgument"},
		{"verb=ListRecords&metadataPrefix=oai_dc&set=kind:spaceship", "noRecordsMatch"},
		{"verb=ListIdentifiers&metadataPrefix=oai_dc&from=9999-12-31", "noRecordsMatch"},
	}
	for _, c := range cases {
		a := get(t, h.oai, c.query)
		if len(a.Errors) != 1 || a.Errors[0].Code != c.code {
			t.Errorf("%q: errors %+v, want %s", c.query, a.Errors, c.code)
			continue
		}
		if a.Errors[0].Text == "" {
			t.Errorf("%q: error without a reason", c.query)
		}
		if (c.code == "badVerb" || c.code == "badArgument") && (a.Request.Verb != "" || len(a.Request.Attrs) != 0) {
			t.Errorf("%q: arguments echoed after %s: %+v", c.query, c.code, a.Request)
		}
	}
	// A token of ListIdentifiers is not one of ListRecords.
	defer oaipmh.SetPageSize(1)()
	a := get(t, h.oai, "verb=ListIdentifiers&metadataPrefix=oai_dc")
	tok := a.ITokens[0].Value
	a = get(t, h.oai, "verb=ListRecords&resumptionToken="+url.QueryEscape(tok))
	if len(a.Errors) != 1 || a.Errors[0].Code != "badResumptionToken" {
		t.Errorf("token of another verb: %+v", a.Errors)
	}
	// An edited token fails its checksum.
	edited := []byte(tok)
	edited[3] ^= 1
	a = get(t, h.oai, "verb=ListIdentifiers&resumptionToken="+url.QueryEscape(string(edited)))
	if len(a.Errors) != 1 || a.Errors[0].Code != "badResumptionToken" {
		t.Errorf("edited token: %+v", a.Errors)
	}

	// POST must be form-encoded; other methods are refused.
	resp, err := http.Post(h.oai, "application/json", strings.NewReader(`{"verb":"Identify"}`))
	if err != nil {
		t.Fatal(err)
	}
	a = read(t, resp, "POST json")
	if len(a.Errors) != 1 || a.Errors[0].Code != "badArgument" {
		t.Errorf("POST json: %+v", a.Errors)
	}
	a = post(t, h.oai, "verb=Identify")
	if a.Identify == nil {
		t.Errorf("POST Identify: %+v", a)
	}
	req, _ := http.NewRequest(http.MethodDelete, h.oai, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("DELETE /oai: %d, want a 4xx", resp.StatusCode)
	}
}

// TestDeletedThenRecreated follows one id through deletion, re-creation
// and deletion again: GetRecord always answers its current state.
func TestDeletedThenRecreated(t *testing.T) {
	h := startHub(t)
	ctx := context.Background()
	oid := "oai:" + h.host(t) + ":" + h.ids[1]
	q := "verb=GetRecord&metadataPrefix=oai_dc&identifier=" + url.QueryEscape(oid)
	status := func() string {
		a := get(t, h.oai, q)
		if a.Get == nil {
			t.Fatalf("GetRecord %s: %+v", oid, a.Errors)
		}
		return a.Get.Header.Status
	}
	if s := status(); s != "" {
		t.Fatalf("live record has status %q", s)
	}
	r, err := h.n.Service.Get(ctx, h.ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := h.n.Service.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != "deleted" {
		t.Fatalf("after deletion: status %q", s)
	}
	r.Files = nil
	if _, err := h.n.Service.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != "" {
		t.Fatalf("re-created: status %q", s)
	}
	if err := h.n.Service.Delete(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if s := status(); s != "deleted" {
		t.Fatalf("deleted again: status %q", s)
	}
	// Listed once, at its last deletion, though the feed holds two.
	a := get(t, h.oai, "verb=ListIdentifiers&metadataPrefix=oai_dc")
	n := 0
	for _, hd := range a.Headers {
		if hd.Identifier == oid {
			n++
			if hd.Status != "deleted" {
				t.Errorf("%s listed with status %q", oid, hd.Status)
			}
		}
	}
	if n != 1 {
		t.Errorf("%s listed %d times", oid, n)
	}
}

// TestAdaptationNamesItsSource: an adaptation's record names the resource
// it derives from as dc:source, and a resource that is no adaptation has
// none.
func TestAdaptationNamesItsSource(t *testing.T) {
	h := startHub(t)
	host := h.host(t)
	srcURL := h.n.URL + "/r/" + h.ids[0]
	ad, err := h.n.Service.Adapt(context.Background(), h.ids[0], node.AdaptOptions{Title: "Adaptation pour Gap", SourceURL: srcURL})
	if err != nil {
		t.Fatal(err)
	}
	a := get(t, h.oai, "verb=GetRecord&metadataPrefix=oai_dc&identifier="+url.QueryEscape("oai:"+host+":"+ad.ID))
	if a.Get == nil || a.Get.DC == nil || !slices.Equal(a.Get.DC.Source, []string{srcURL}) {
		t.Fatalf("adaptation's record: %+v, want dc:source %s", a.Get, srcURL)
	}
	a = get(t, h.oai, "verb=GetRecord&metadataPrefix=oai_dc&identifier="+url.QueryEscape("oai:"+host+":"+h.ids[0]))
	if a.Get == nil || a.Get.DC == nil || len(a.Get.DC.Source) != 0 {
		t.Fatalf("source's record: %+v, want no dc:source", a.Get)
	}
}
