package oaipmh

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// token is the state of an incomplete list, carried by the harvester in
// the resumptionToken. It holds a position in the catalog, not an offset,
// so each page is one bounded scan however deep the harvester is.
//
// The token is not secret: it is validated field by field and carries a
// checksum that makes a corrupted or edited token fail as
// badResumptionToken. Editing one would only let a harvester start
// somewhere else in a list it may read anyway.
type token struct {
	V      int    `json:"v"`
	Verb   string `json:"vb"`
	Prefix string `json:"m"`
	Set    string `json:"s,omitempty"`
	From   *int64 `json:"f,omitempty"`
	Until  *int64 `json:"u,omitempty"`
	// Phase is "l" while listing live resources (After is the catalog's
	// page cursor), then "d" for deletions from the change feed (Seq is
	// the last change read).
	Phase  string `json:"p"`
	After  string `json:"a,omitempty"`
	Seq    uint64 `json:"q,omitempty"`
	Cursor int    `json:"c"`
	Total  int    `json:"t,omitempty"`
	Exp    int64  `json:"e"`
}

const (
	tokenVersion = 1
	maxTokenLen  = 2048
	tokenTTL     = 24 * time.Hour
)

func tokenSum(payload string) string {
	sum := sha256.Sum256([]byte("communs-oai-token:" + payload))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

func (t *token) encode() string {
	data, _ := json.Marshal(t) // a struct of plain fields always encodes
	payload := base64.RawURLEncoding.EncodeToString(data)
	return payload + "." + tokenSum(payload)
}

func badToken(why string) *oaiError {
	return errorf(codeBadResumptionToken, "the resumptionToken is not one this repository issued or has expired (%s); start the list again without it", why)
}

// decodeToken checks a token entirely before any of it is used.
func decodeToken(s string, verb string, now time.Time) (*token, *oaiError) {
	if len(s) > maxTokenLen {
		return nil, badToken("too long")
	}
	payload, sum, ok := strings.Cut(s, ".")
	if !ok || subtle.ConstantTimeCompare([]byte(sum), []byte(tokenSum(payload))) != 1 {
		return nil, badToken("checksum")
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, badToken("encoding")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var t token
	if err := dec.Decode(&t); err != nil || dec.More() {
		return nil, badToken("content")
	}
	switch {
	case t.V != tokenVersion:
		return nil, badToken("version")
	case t.Verb != verb:
		return nil, badToken("issued for " + clip(t.Verb))
	case t.Prefix != formatDC:
		return nil, badToken("format")
	case t.Set != "" && !setSpecRe.MatchString(t.Set):
		return nil, badToken("set")
	case t.Phase != phaseLive && t.Phase != phaseDeleted:
		return nil, badToken("phase")
	case t.Phase == phaseDeleted && t.After != "":
		return nil, badToken("position")
	case len(t.After) > 512 || strings.Trim(t.After, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "":
		return nil, badToken("position")
	case t.Cursor < 0 || t.Cursor > 1<<30 || t.Total < 0 || t.Total > 1<<30 || (t.Total > 0 && t.Cursor >= t.Total):
		return nil, badToken("cursor")
	case t.From != nil && t.Until != nil && *t.From > *t.Until:
		return nil, badToken("dates")
	case t.From != nil && (*t.From < minUnix || *t.From > maxUnix), t.Until != nil && (*t.Until < minUnix || *t.Until > maxUnix):
		return nil, badToken("dates")
	case t.Exp < now.Unix():
		return nil, badToken("expired")
	case t.Exp > now.Add(tokenTTL+time.Hour).Unix():
		return nil, badToken("expiry")
	}
	return &t, nil
}

// Bounds of the years 1 and 9999, what parseDatestamp accepts.
var (
	minUnix = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxUnix = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	n := t.Unix()
	return &n
}

func timePtr(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := time.Unix(*n, 0).UTC()
	return &t
}
