package federation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-fed/activity/streams"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
)

// TestResourceObjectAsGoFed: resourceObject writes the Note's AS2 terms
// itself, as go-fed's typed values serialised them (resourceObjectGoFed,
// below, is the code it replaced): same JSON for the corpus's resources
// with files, organisations, adaptations, odd ids and dates in any zone.
func TestResourceObjectAsGoFed(t *testing.T) {
	rs := corpus.Synthetic(corpus.MustLoad(t), 500, 13)
	paris, _ := time.LoadLocation("Europe/Paris")
	base := time.Date(2025, 3, 30, 1, 59, 59, 999_999_999, paris)
	for i := range rs {
		r := &rs[i]
		r.ID = fmt.Sprintf("fiche-%d", i)
		if i%7 == 0 {
			r.ID = fmt.Sprintf("fiche-%d-é%%20x", i)
		}
		r.Origin = ""
		r.Created = base.Add(time.Duration(i) * 37 * time.Minute)
		switch i % 4 {
		case 0:
			r.Updated = r.Created
		case 1:
			r.Updated = r.Created.Add(300 * time.Millisecond)
		case 2:
			r.Updated = r.Created.Add(2 * time.Hour).UTC()
		case 3:
			r.Updated = time.Time{}
		}
		if i%3 == 0 {
			r.Files = []node.File{{Name: "fiche v2.pdf", MediaType: "application/pdf", Size: int64(i), SHA256: fmt.Sprintf("%064x", i)}}
		}
		if i%5 == 0 {
			r.Organisation, r.OrganisationName = "asso-du-coin", "Asso du coin"
		}
		if i%11 == 0 {
			r.BasedOn = []node.Source{{URL: "https://b.example/ressources/x", Title: "Source", Hub: "hub-b", License: "CC-BY-4.0", Authors: []string{"Ana"}}}
		}
		if i%13 == 0 {
			r.Language = "fr \"x\""
		}
	}
	rs = append(rs, node.Resource{ID: "vide"})
	for _, base := range []string{"https://hub.example", "http://127.0.0.1:8080", "https://hub.example/sous-dossier"} {
		u := urls{base: base}
		for _, r := range rs {
			want, werr := resourceObjectGoFed(u, r)
			got, gerr := resourceObject(u, r)
			if (werr != nil) != (gerr != nil) {
				t.Fatalf("%s: error %v, want %v", r.ID, gerr, werr)
			}
			wb, _ := json.Marshal(want)
			gb, _ := json.Marshal(got)
			if string(wb) != string(gb) {
				t.Fatalf("%s:\n got %s\nwant %s", r.ID, gb, wb)
			}
		}
	}
	remote := rs[1]
	remote.Origin = "https://b.example/ressources/1"
	if _, err := resourceObject(urls{base: "https://hub.example"}, remote); err == nil {
		t.Fatal("a remote resource was made a Note")
	}
}

func resourceObjectGoFed(u urls, r node.Resource) (map[string]any, error) {
	objectID := u.object(r.ID)
	if !r.Local() {
		return nil, fmt.Errorf("resource %s comes from %s: only local resources are federated", r.ID, r.Origin)
	}
	p := streams.NewActivityStreamsNote()
	p.SetJSONLDId(idProp(objectID))
	// The summary travels as schema:abstract for Communs nodes and inside
	// the content for people.
	content := contentHTML(u, r, objectID)
	c := streams.NewActivityStreamsContentProperty()
	c.AppendXMLSchemaString(content)
	p.SetActivityStreamsContent(c)
	u.address(p, objectID, r.Created)
	// AS2 updated only once the kit changed (and never in a Create, see
	// activity): GoToSocial and Mastodon show a post with one as edited,
	// GoToSocial even when it equals published. Communs nodes read
	// schema:dateModified, always set.
	if updated := r.Updated.UTC().Truncate(time.Second); updated.After(r.Created.UTC().Truncate(time.Second)) {
		upd := streams.NewActivityStreamsUpdatedProperty()
		upd.Set(updated)
		p.SetActivityStreamsUpdated(upd)
	}
	files := make([]any, 0, len(r.Files))
	for _, f := range r.Files {
		files = append(files, map[string]any{"type": "Document", "name": f.Name, "mediaType": f.MediaType,
			"url": u.file(r.ID, f.Name), "size": f.Size, "digest": "sha-256:" + f.SHA256})
	}
	m, err := serialize(p)
	if err != nil {
		return nil, err
	}
	var tags []any
	for _, t := range r.Themes {
		tags = append(tags, map[string]any{"type": "Hashtag", "name": "#" + hashtag(t), "href": tagURL(u, t)})
	}
	if tags != nil {
		m["tag"] = tags
	}
	m["title"] = r.Title
	m["files"] = files
	m["slug"] = r.ID
	m["kind"] = r.Kind
	m["themes"] = nonNil(r.Themes)
	m["targetAudience"] = nonNil(r.Audience)
	m["level"] = r.Level
	m["inLanguage"] = r.Language
	m["hub"] = r.Hub
	m["authors"] = nonNil(r.Authors)
	m["spdx"] = r.License
	m["license"] = licenseURL(r.License)
	m["datePublished"] = r.Published
	m["dateModified"] = r.Updated.UTC().Truncate(time.Second).Format(time.RFC3339)
	m["source"] = map[string]any{"content": r.Description, "mediaType": "text/markdown"}
	if r.Summary != "" {
		m["abstract"] = r.Summary
	}
	// contentMap gives the post its language, which timelines use to
	// filter and translate.
	if lang := r.Language; lang != "" && !strings.ContainsAny(lang, " \"<>") {
		m["contentMap"] = map[string]any{lang: content}
	}
	m["sensitive"] = false
	if r.Organisation != "" {
		// The member organisation of this hub that made the kit, and its
		// page here: another hub credits "par NAME (hub)".
		m["organisation"] = u.organisation(r.Organisation, r.OrganisationName)
	}
	basedOnTerms(m, r.BasedOn) // adaptations.go
	return m, nil
}
