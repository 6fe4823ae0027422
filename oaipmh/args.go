package oaipmh

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error codes of OAI-PMH 2.0, section 3.6.
const (
	codeBadVerb                 = "badVerb"
	codeBadArgument             = "badArgument"
	codeBadResumptionToken      = "badResumptionToken"
	codeCannotDisseminateFormat = "cannotDisseminateFormat"
	codeIDDoesNotExist          = "idDoesNotExist"
	codeNoRecordsMatch          = "noRecordsMatch"
	codeNoMetadataFormats       = "noMetadataFormats"
	codeNoSetHierarchy          = "noSetHierarchy"
)

// oaiError is a protocol error: answered with HTTP 200 and an <error>
// element, as the protocol requires, never a 5xx.
type oaiError struct {
	code, msg string
}

func (e *oaiError) Error() string { return e.code + ": " + e.msg }

func errorf(code, format string, a ...any) *oaiError {
	return &oaiError{code: code, msg: fmt.Sprintf(format, a...)}
}

// The verbs and, for each, the arguments it accepts (section 3.1.1 and 4).
var verbArgs = map[string]map[string]bool{
	"Identify":            {},
	"ListMetadataFormats": {"identifier": true},
	"ListSets":            {"resumptionToken": true},
	"GetRecord":           {"identifier": true, "metadataPrefix": true},
	"ListIdentifiers":     {"from": true, "until": true, "set": true, "metadataPrefix": true, "resumptionToken": true},
	"ListRecords":         {"from": true, "until": true, "set": true, "metadataPrefix": true, "resumptionToken": true},
}

// Patterns of the OAI-PMH schema: a value echoed in <request> must match
// its type there, so an argument that does not is refused as badArgument.
var (
	prefixRe  = regexp.MustCompile(`^[A-Za-z0-9\-_.!~*'()]+$`)
	setSpecRe = regexp.MustCompile(`^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$`)
)

const (
	maxArgLen   = 1024
	dayLayout   = "2006-01-02"
	secondsLayo = "2006-01-02T15:04:05Z"
)

// request is a parsed, checked OAI-PMH request.
type request struct {
	verb       string
	identifier string
	prefix     string
	set        string
	from       *time.Time // inclusive, second precision
	until      *time.Time // inclusive, second precision
	token      string
	// raw keeps the arguments as sent, echoed in <request> once they are
	// known to be legal.
	raw map[string]string
}

// parseArgs checks the arguments of a request: verb first (badVerb), then
// each argument once, legal for the verb, and the exclusive resumptionToken
// (badArgument). It does not decode the token nor look anything up.
func parseArgs(v url.Values) (*request, *oaiError) {
	verbs := v["verb"]
	switch {
	case len(verbs) == 0:
		return nil, errorf(codeBadVerb, "the verb argument is missing")
	case len(verbs) > 1:
		return nil, errorf(codeBadVerb, "the verb argument is repeated")
	}
	allowed, ok := verbArgs[verbs[0]]
	if !ok {
		return nil, errorf(codeBadVerb, "%q is not an OAI-PMH verb (Identify, ListMetadataFormats, ListSets, GetRecord, ListIdentifiers, ListRecords)", clip(verbs[0]))
	}
	q := &request{verb: verbs[0], raw: map[string]string{}}
	for name, vals := range v {
		if name == "verb" {
			continue
		}
		if !allowed[name] {
			return nil, errorf(codeBadArgument, "%s does not take the argument %q", q.verb, clip(name))
		}
		if len(vals) != 1 {
			return nil, errorf(codeBadArgument, "the argument %s is repeated", name)
		}
		val := vals[0]
		if len(val) > maxArgLen || !utf8.ValidString(val) || hasControl(val) {
			return nil, errorf(codeBadArgument, "the argument %s is not a legal value", name)
		}
		q.raw[name] = val
	}
	if tok, ok := q.raw["resumptionToken"]; ok {
		if len(q.raw) > 1 {
			return nil, errorf(codeBadArgument, "resumptionToken is an exclusive argument: send it with the verb only")
		}
		q.token = tok
		return q, nil
	}
	if id, ok := q.raw["identifier"]; ok {
		if !legalURI(id) {
			return nil, errorf(codeBadArgument, "the identifier %q is not a URI", clip(id))
		}
		q.identifier = id
	}
	if p, ok := q.raw["metadataPrefix"]; ok {
		if !prefixRe.MatchString(p) {
			return nil, errorf(codeBadArgument, "the metadataPrefix %q is not a legal prefix", clip(p))
		}
		q.prefix = p
	}
	if s, ok := q.raw["set"]; ok {
		if !setSpecRe.MatchString(s) {
			return nil, errorf(codeBadArgument, "the set %q is not a legal setSpec", clip(s))
		}
		q.set = s
	}
	switch q.verb {
	case "GetRecord":
		if q.identifier == "" || q.prefix == "" {
			return nil, errorf(codeBadArgument, "GetRecord needs the identifier and metadataPrefix arguments")
		}
	case "ListIdentifiers", "ListRecords":
		if q.prefix == "" {
			return nil, errorf(codeBadArgument, "%s needs the metadataPrefix argument (or a resumptionToken)", q.verb)
		}
	}
	var fromDay, untilDay bool
	var err *oaiError
	if s, ok := q.raw["from"]; ok {
		if q.from, fromDay, err = parseDatestamp("from", s, false); err != nil {
			return nil, err
		}
	}
	if s, ok := q.raw["until"]; ok {
		if q.until, untilDay, err = parseDatestamp("until", s, true); err != nil {
			return nil, err
		}
	}
	if q.from != nil && q.until != nil {
		if fromDay != untilDay {
			return nil, errorf(codeBadArgument, "from and until must have the same granularity")
		}
		if q.from.After(*q.until) {
			return nil, errorf(codeBadArgument, "from is later than until")
		}
	}
	return q, nil
}

// parseDatestamp reads a day (YYYY-MM-DD) or a second (YYYY-MM-DDThh:mm:ssZ)
// in UTC. A day as until covers the whole day.
func parseDatestamp(name, s string, end bool) (*time.Time, bool, *oaiError) {
	var t time.Time
	var err error
	day := len(s) == len(dayLayout)
	if day {
		t, err = time.Parse(dayLayout, s)
	} else {
		t, err = time.Parse(secondsLayo, s)
		if err == nil && t.Format(secondsLayo) != s {
			err = fmt.Errorf("not canonical")
		}
	}
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return nil, false, errorf(codeBadArgument, "%s=%q: write YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (UTC)", name, clip(s))
	}
	if day && end {
		t = t.Add(24*time.Hour - time.Second)
	}
	return &t, day, nil
}

// legalURI accepts what the schema's anyURI holds once a validator has
// escaped non-ASCII letters: a scheme, then RFC 3986 characters only,
// percent signs starting an escape, at most one fragment. Go's url.Parse is
// laxer (it takes "a:b#c#d"), and an identifier echoed in <request> must
// validate.
func legalURI(s string) bool {
	if !schemeRe.MatchString(s) || strings.Count(s, "#") > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
		case !strings.ContainsRune(uriChars, rune(c)):
			return false
		}
	}
	return true
}

var schemeRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:`)

const uriChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'()*+,;="

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hasControl(s string) bool {
	for _, c := range s {
		if unicode.IsControl(c) || c == '\uFFFE' || c == '\uFFFF' {
			return true
		}
	}
	return false
}

// clip shortens a value quoted back in an error message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	for i := 80; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}
