package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-fed/activity/streams"
	"golang.org/x/net/idna"

	"github.com/communs-numerique/communs/node"
)

// incoming is an activity received in an inbox, reduced to what the node
// acts on.
type incoming struct {
	ID, Type, Actor string
	// ObjectID is the object's id, embedded or referenced; Object is the
	// embedded document, if any.
	ObjectID string
	Object   map[string]any
	// Raw is the whole activity, for the terms only one type reads (a
	// Flag's content and reason).
	Raw map[string]any
}

var errBadActivity = errors.New("malformed activity")

// parseActivity reads an activity. go-fed's resolver checks it is a known
// ActivityStreams activity; the fields the node uses are then read from the
// JSON, where extension terms live.
func parseActivity(ctx context.Context, body []byte) (incoming, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return incoming{}, fmt.Errorf("%w: not a JSON object: %v", errBadActivity, err)
	}
	in := incoming{Raw: m}
	in.ID, _ = m["id"].(string)
	in.Type, _ = m["type"].(string)
	in.Actor = idOf(m["actor"])
	if in.ID == "" || in.Type == "" || in.Actor == "" {
		return in, fmt.Errorf("%w: id, type and actor are required", errBadActivity)
	}
	switch in.Type {
	case "Follow", "Accept", "Reject", "Undo", "Create", "Update", "Delete", "Flag", "Announce":
	default:
		return in, fmt.Errorf("%w: %w %q: this node does not act on it", errBadActivity, errUnhandled, in.Type)
	}
	// Validate the envelope through go-fed without the embedded object:
	// its extension terms and Hashtag tags are outside go-fed's v1
	// vocabulary, and the object is checked field by field below.
	envelope := map[string]any{}
	for k, v := range m {
		if k != "object" {
			envelope[k] = v
		}
	}
	envelope["object"] = idOf(m["object"])
	if _, err := streams.ToType(ctx, envelope); err != nil {
		return in, fmt.Errorf("%w: %v", errBadActivity, err)
	}
	switch o := m["object"].(type) {
	case string:
		in.ObjectID = o
	case map[string]any:
		in.Object = o
		in.ObjectID, _ = o["id"].(string)
	}
	if in.ObjectID == "" {
		return in, fmt.Errorf("%w: object id is required", errBadActivity)
	}
	for _, u := range []string{in.ID, in.Actor, in.ObjectID} {
		if _, err := absURL(u); err != nil {
			return in, fmt.Errorf("%w: %v", errBadActivity, err)
		}
	}
	return in, nil
}

// idOf reads an id that may be an IRI or an object with an id.
func idOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		s, _ := x["id"].(string)
		return s
	}
	return ""
}

func absURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return u, nil
}

// hostOf returns a URL's host in canonical form: lower case, without a
// trailing dot (which DNS and TLS ignore) and in IDNA ASCII, so that
// "evil.example." or a Unicode spelling is the blocked "evil.example".
func hostOf(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	h := strings.ToLower(u.Host)
	// Internationalised names in their ASCII form, as DNS sees them.
	if name, port, err := net.SplitHostPort(h); err == nil {
		if a, err := idna.Lookup.ToASCII(strings.TrimSuffix(name, ".")); err == nil {
			return a + ":" + port
		}
	} else if a, err := idna.Lookup.ToASCII(strings.TrimSuffix(h, ".")); err == nil {
		return a
	}
	if host, port, ok := strings.Cut(h, ":"); ok && !strings.Contains(h, "[") {
		return strings.TrimSuffix(host, ".") + ":" + port
	}
	return strings.TrimSuffix(h, ".")
}

// parseResource reads a resource object sent by a Communs peer: a Note
// whose title is communs:title and whose files, with their announced
// digests, are communs:files. A Page, Article or Document with the title
// as its name and the files as attachments is read too (the shape before
// resources went out as Notes).
func parseResource(o map[string]any) (node.Resource, []node.RemoteFile, error) {
	str := func(k string) string { s, _ := o[k].(string); return s }
	list := func(k string) []string {
		var out []string
		if a, ok := o[k].([]any); ok {
			for _, v := range a {
				if s, ok := v.(string); ok {
					out = append(out, s)
				}
			}
		}
		return out
	}
	id := str("id")
	if t := str("type"); t != "Note" && t != "Page" && t != "Article" && t != "Document" {
		return node.Resource{}, nil, fmt.Errorf("%w: object %s is a %q, not a resource", errBadActivity, id, t)
	}
	slug := objectSlug(o)
	r := node.Resource{
		ID: node.RemoteID(id, slug), Origin: id,
		Metadata: node.Metadata{Title: str("title"), Kind: str("kind"), Themes: list("themes"), Audience: list("targetAudience"),
			Level: str("level"), License: str("spdx"), Language: str("inLanguage"), Authors: list("authors"),
			Published: str("datePublished")}, // Hub: the delivering actor's, set by saveCopies, never the payload's
	}
	if r.Title == "" {
		r.Title = str("name")
	}
	// Since nodes stopped sending an AS2 summary (a content warning
	// elsewhere), the summary is schema:abstract; older nodes send summary.
	r.Summary = str("abstract")
	if r.Summary == "" {
		r.Summary = plainSummary(str("summary"))
	}
	// schema:dateModified is always sent (AS2 updated is left out of a
	// Create, see activity); a Page had only updated.
	for _, k := range []string{"dateModified", "updated"} {
		if t, err := time.Parse(time.RFC3339, str(k)); err == nil {
			r.Updated = t.UTC()
			break
		}
	}
	if src, ok := o["source"].(map[string]any); ok {
		r.Description, _ = src["content"].(string)
	}
	// The origin's member organisation: untrusted text, checked by
	// node.ValidateRemoteOrganisation (bounded name, page on the origin's
	// host) when the copy is saved.
	if org, ok := o["organisation"].(map[string]any); ok {
		r.OrganisationName, _ = org["name"].(string)
		r.OrganisationURL = idOf(org["url"])
	}
	chain, err := parseBasedOn(o) // adaptations.go
	if err != nil {
		return r, nil, err
	}
	r.BasedOn = chain
	var files []node.RemoteFile
	filesKey := "files"
	if _, ok := o[filesKey]; !ok {
		filesKey = "attachment"
	}
	atts, _ := o[filesKey].([]any)
	if one, ok := o[filesKey].(map[string]any); ok {
		atts = []any{one}
	}
	for _, a := range atts {
		d, ok := a.(map[string]any)
		if !ok {
			continue
		}
		f := node.RemoteFile{}
		f.Name, _ = d["name"].(string)
		f.MediaType, _ = d["mediaType"].(string)
		f.URL = idOf(d["url"])
		if size, ok := d["size"].(float64); ok {
			f.Size = int64(size)
		}
		if dg, ok := d["digest"].(string); ok {
			f.SHA256 = strings.TrimPrefix(dg, "sha-256:")
		}
		if f.Name == "" || f.URL == "" {
			return r, nil, fmt.Errorf("%w: file without name or url in %s", errBadActivity, id)
		}
		if hostOf(f.URL) != hostOf(id) {
			return r, nil, fmt.Errorf("%w: file %s is not on the object's host", errBadActivity, f.URL)
		}
		files = append(files, f)
	}
	return r, files, nil
}

// objectSlug is the slug a resource object announces, else the last
// segment of its id: with the origin it makes the copy's local id.
func objectSlug(o map[string]any) string {
	if slug, _ := o["slug"].(string); slug != "" {
		return slug
	}
	id, _ := o["id"].(string)
	return id[strings.LastIndex(id, "/")+1:]
}

// plainSummary undoes the HTML escaping resourceObject applies.
func plainSummary(s string) string {
	r := strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`, "&amp;", "&")
	return r.Replace(s)
}
