package oaipmh

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzArgs feeds arbitrary query strings and tokens to the argument and
// token parsers: they must never panic, and whatever they accept must hold
// the invariants the handler relies on.
func FuzzArgs(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	good := (&token{V: tokenVersion, Verb: "ListRecords", Prefix: formatDC, Phase: phaseLive, After: "AAAAAAAAAAA", Cursor: 100, Total: 250, Exp: now.Add(time.Hour).Unix()}).encode()
	for _, s := range []string{
		"verb=Identify", "verb=ListRecords&metadataPrefix=oai_dc&from=2025-01-01&until=2025-12-31",
		"verb=ListIdentifiers&metadataPrefix=oai_dc&set=theme:cybersecurite&from=2025-01-01T00:00:00Z",
		"verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:hub.example.org:kit", "verb=ListSets&resumptionToken=x",
		"verb=ListRecords&resumptionToken=" + url.QueryEscape(good), "verb=Identify&verb=ListSets", "verb=ListRecords&from=%ZZ",
		"verb=ListRecords&metadataPrefix=oai_dc&from=2025-02-30", "verb=ListRecords&metadataPrefix=oai_dc&until=0000-01-01",
	} {
		f.Add(s, good)
	}
	f.Fuzz(func(t *testing.T, query, tok string) {
		if v, perr := parseQuery(query); perr == nil {
			q, perr := parseArgs(v)
			if perr == nil {
				if _, ok := verbArgs[q.verb]; !ok {
					t.Fatalf("accepted verb %q", q.verb)
				}
				if q.from != nil && q.until != nil && q.from.After(*q.until) {
					t.Fatalf("from %v after until %v accepted", q.from, q.until)
				}
				if q.token != "" && len(q.raw) != 1 {
					t.Fatalf("resumptionToken accepted with other arguments: %v", q.raw)
				}
				if q.set != "" && !setSpecRe.MatchString(q.set) || q.prefix != "" && !prefixRe.MatchString(q.prefix) {
					t.Fatalf("illegal set or prefix accepted: %q %q", q.set, q.prefix)
				}
				if q.identifier != "" && (strings.ContainsAny(q.identifier, " <>\"[]") || strings.Count(q.identifier, "#") > 1) {
					t.Fatalf("identifier %q accepted", q.identifier)
				}
			} else if perr.code != codeBadVerb && perr.code != codeBadArgument {
				t.Fatalf("parseArgs answered %s", perr.code)
			}
		}
		d, perr := decodeToken(tok, "ListRecords", now)
		if perr != nil {
			if perr.code != codeBadResumptionToken {
				t.Fatalf("decodeToken answered %s", perr.code)
			}
			return
		}
		if d.Prefix != formatDC || (d.Phase != phaseLive && d.Phase != phaseDeleted) || d.Cursor < 0 || d.Exp < now.Unix() {
			t.Fatalf("accepted token %+v", d)
		}
		// What was accepted encodes back to a token that decodes the same.
		again, perr := decodeToken(d.encode(), "ListRecords", now)
		if perr != nil || *again != *d && !(again.From != nil || again.Until != nil) {
			t.Fatalf("round trip of %+v: %+v %v", d, again, perr)
		}
	})
}
