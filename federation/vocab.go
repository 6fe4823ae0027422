package federation

import (
	"cmp"
	"fmt"
	"html"
	"net/url"
	"strings"
	"time"

	"github.com/go-fed/activity/streams"
	"github.com/go-fed/activity/streams/vocab"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/internal/text"
	"github.com/communs-numerique/communs/node"
)

// Namespace is the IRI of Communs' extension terms. Every node publishes
// the same context (at /ns/communs) and also inlines it in each document,
// so LD-unaware servers (most of the fediverse) read plain JSON keys.
const Namespace = "https://w3id.org/communs/ns#"

const (
	asPublic      = "https://www.w3.org/ns/activitystreams#Public"
	contentTypeAS = "application/activity+json"
)

// contextTerms are the extension terms of a resource object.
var contextTerms = map[string]any{
	"communs":                   Namespace,
	"schema":                    "http://schema.org/",
	"Hashtag":                   "as:Hashtag",
	"sensitive":                 "as:sensitive",
	"manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
	"kind":                      "communs:kind",
	"themes":                    "communs:themes",
	"targetAudience":            "communs:audience",
	"level":                     "communs:level",
	"title":                     "communs:title",
	"files":                     "communs:files",
	"hub":                       "communs:hub",
	"slug":                      "communs:slug",
	"authors":                   "communs:authors",
	"spdx":                      "communs:spdx",
	"size":                      "communs:size",
	"digest":                    "communs:digest",
	"inLanguage":                "schema:inLanguage",
	"datePublished":             "schema:datePublished",
	"dateModified":              "schema:dateModified",
	"license":                   map[string]any{"@id": "schema:license", "@type": "@id"},
	"abstract":                  "schema:abstract",
	"toot":                      "http://joinmastodon.org/ns#",
	"discoverable":              "toot:discoverable",
	"indexable":                 "toot:indexable",
	"PropertyValue":             "schema:PropertyValue",
	"value":                     "schema:value",
	"organisation":              "communs:organisation",
}

// ldContext is the @context of every document this node serves. go-fed
// builds its own from a map, whose order varies; a fixed one keeps golden
// files and signatures stable.
func ldContext() []any {
	return []any{"https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1", contextTerms}
}

// ContextDocument is served at /ns/communs.
func ContextDocument() map[string]any { return map[string]any{"@context": contextTerms} }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(fmt.Sprintf("federation: bad URL %q: %v", s, err))
	}
	return u
}

func idProp(s string) vocab.JSONLDIdProperty {
	p := streams.NewJSONLDIdProperty()
	p.Set(mustURL(s))
	return p
}

// serialize turns a go-fed value into JSON with this node's context.
func serialize(t vocab.Type) (map[string]any, error) {
	m, err := streams.Serialize(t)
	if err != nil {
		return nil, fmt.Errorf("serialize %s: %w", t.GetTypeName(), err)
	}
	m["@context"] = ldContext()
	return m, nil
}

// urls are the addresses of this node's actor and objects.
type urls struct{ base string }

// They are built by internal/paths, from the same patterns the web routes
// are registered with, so a renamed route cannot silently change an id.
func (u urls) actor() string           { return paths.Base(u.base).Actor() }
func (u urls) key() string             { return paths.Base(u.base).ActorKey() }
func (u urls) inbox() string           { return paths.Base(u.base).Inbox() }
func (u urls) sharedInbox() string     { return paths.Base(u.base).SharedInbox() }
func (u urls) outbox() string          { return paths.Base(u.base).Outbox() }
func (u urls) followers() string       { return paths.Base(u.base).Followers() }
func (u urls) following() string       { return paths.Base(u.base).Following() }
func (u urls) object(id string) string { return paths.Base(u.base).Resource(id) }
func (u urls) file(id, name string) string {
	return paths.Base(u.base).File(id, name)
}
func (u urls) activity(kind, id string) string {
	return paths.Base(u.base).Activity(kind, id)
}

// Profile is how the hub's account looks on Mastodon and GoToSocial: its
// avatar (icon) and header (image), the rows of its profile, and whether
// their directories and search may list it.
type Profile struct {
	IconURL, IconType   string
	ImageURL, ImageType string
	// Website and Region become profile rows ("Site web", "Région").
	Website, Region string
	// Discoverable lets Mastodon's directory and search list the hub
	// (discoverable and indexable).
	Discoverable bool
}

// actorDoc is the node's actor: an Organization that Mastodon and
// GoToSocial can follow.
func actorDoc(u urls, username, name, summary, publicKeyPEM string, manual bool, prof Profile) (map[string]any, error) {
	org := streams.NewActivityStreamsOrganization()
	org.SetJSONLDId(idProp(u.actor()))
	pu := streams.NewActivityStreamsPreferredUsernameProperty()
	pu.SetXMLSchemaString(username)
	org.SetActivityStreamsPreferredUsername(pu)
	n := streams.NewActivityStreamsNameProperty()
	n.AppendXMLSchemaString(name)
	org.SetActivityStreamsName(n)
	if summary != "" {
		s := streams.NewActivityStreamsSummaryProperty()
		s.AppendXMLSchemaString(html.EscapeString(summary))
		org.SetActivityStreamsSummary(s)
	}
	inbox := streams.NewActivityStreamsInboxProperty()
	inbox.SetIRI(mustURL(u.inbox()))
	org.SetActivityStreamsInbox(inbox)
	outbox := streams.NewActivityStreamsOutboxProperty()
	outbox.SetIRI(mustURL(u.outbox()))
	org.SetActivityStreamsOutbox(outbox)
	followers := streams.NewActivityStreamsFollowersProperty()
	followers.SetIRI(mustURL(u.followers()))
	org.SetActivityStreamsFollowers(followers)
	following := streams.NewActivityStreamsFollowingProperty()
	following.SetIRI(mustURL(u.following()))
	org.SetActivityStreamsFollowing(following)
	home := streams.NewActivityStreamsUrlProperty()
	home.AppendIRI(mustURL(u.base + "/"))
	org.SetActivityStreamsUrl(home)

	pk := streams.NewW3IDSecurityV1PublicKey()
	pk.SetJSONLDId(idProp(u.key()))
	owner := streams.NewW3IDSecurityV1OwnerProperty()
	owner.SetIRI(mustURL(u.actor()))
	pk.SetW3IDSecurityV1Owner(owner)
	pem := streams.NewW3IDSecurityV1PublicKeyPemProperty()
	pem.Set(publicKeyPEM)
	pk.SetW3IDSecurityV1PublicKeyPem(pem)
	pkp := streams.NewW3IDSecurityV1PublicKeyProperty()
	pkp.AppendW3IDSecurityV1PublicKey(pk)
	org.SetW3IDSecurityV1PublicKey(pkp)

	m, err := serialize(org)
	if err != nil {
		return nil, err
	}
	// Not in go-fed's vocabulary; Mastodon reads both.
	m["endpoints"] = map[string]any{"sharedInbox": u.sharedInbox()}
	m["manuallyApprovesFollowers"] = manual
	// Mastodon's profile vocabulary, read as plain keys by Mastodon and
	// GoToSocial: without icon the hub shows the default avatar.
	if prof.IconURL != "" {
		m["icon"] = map[string]any{"type": "Image", "mediaType": prof.IconType, "url": prof.IconURL}
	}
	if prof.ImageURL != "" {
		m["image"] = map[string]any{"type": "Image", "mediaType": prof.ImageType, "url": prof.ImageURL}
	}
	var fields []any
	if w, err := absURL(prof.Website); err == nil {
		label := strings.TrimSuffix(w.Host+w.EscapedPath(), "/")
		fields = append(fields, map[string]any{"type": "PropertyValue", "name": "Site web",
			"value": `<a href="` + html.EscapeString(w.String()) + `" rel="me nofollow noopener" target="_blank">` + html.EscapeString(label) + `</a>`})
	}
	if prof.Region != "" {
		fields = append(fields, map[string]any{"type": "PropertyValue", "name": "Région", "value": html.EscapeString(prof.Region)})
	}
	if fields != nil {
		m["attachment"] = fields
	}
	m["discoverable"] = prof.Discoverable
	m["indexable"] = prof.Discoverable
	return m, nil
}

// resourceObject is a resource as an AS2 Note, which Mastodon and
// GoToSocial show as a plain post: its content opens with the title, then
// the summary, the link to the kit and the themes as hashtags. It has no
// AS2 name nor summary: GoToSocial shows either (summary first, then name,
// on every object type) as a content warning hiding the post, Mastodon
// shows a summary as one, and Mastodon 4 renders a Page as its name and
// link only. Communs nodes read the title (communs:title), the other
// extension terms and the files (communs:files, with their digests): as
// AS2 attachments, Mastodon would show them as media in place of the
// link's preview card (GoToSocial 0.18.3 dropped them; docs/INTEROP.md).
func resourceObject(u urls, r node.Resource) (map[string]any, error) {
	objectID := u.object(r.ID)
	if !r.Local() {
		return nil, fmt.Errorf("resource %s comes from %s: only local resources are federated", r.ID, r.Origin)
	}
	// The summary travels as schema:abstract for Communs nodes and inside
	// the content for people.
	content := contentHTML(u, r, objectID)
	// The Note's AS2 terms, as go-fed wrote them (TestResourceObjectAsGoFed)
	// at several times the CPU: its id and page, its author (this hub), its
	// audience (public, cc the followers) and its dates.
	m := map[string]any{"@context": ldContext(), "type": "Note", "id": iri(objectID), "content": content,
		"url": iri(objectID), "attributedTo": iri(u.actor()), "to": iri(asPublic), "cc": iri(u.followers()),
		"published": r.Created.UTC().Truncate(time.Second).Format(time.RFC3339)}
	// AS2 updated only once the kit changed (and never in a Create, see
	// activity): GoToSocial and Mastodon show a post with one as edited,
	// GoToSocial even when it equals published. Communs nodes read
	// schema:dateModified, always set.
	if updated := r.Updated.UTC().Truncate(time.Second); updated.After(r.Created.UTC().Truncate(time.Second)) {
		m["updated"] = updated.Format(time.RFC3339)
	}
	files := make([]any, 0, len(r.Files))
	for _, f := range r.Files {
		files = append(files, map[string]any{"type": "Document", "name": f.Name, "mediaType": f.MediaType,
			"url": u.file(r.ID, f.Name), "size": f.Size, "digest": "sha-256:" + f.SHA256})
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

// hashtag makes a theme slug a tag Mastodon links: no hyphens.
func hashtag(slug string) string {
	var b strings.Builder
	for _, part := range strings.Split(slug, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

func licenseURL(id string) string {
	if l, ok := node.LookupLicense(id); ok && l.URL != "" {
		return l.URL
	}
	return "https://spdx.org/licenses/" + url.PathEscape(id) + ".html"
}

func tagURL(u urls, theme string) string {
	return u.base + paths.Search + "?theme=" + url.QueryEscape(theme)
}

// contentHTML is what fediverse timelines show, as a plain post: the title
// in bold, the summary, the description as plain paragraphs (escaped: no
// markup from the editor reaches another server), the link to the kit, and
// the themes as hashtag links, the markup Mastodon itself produces.
func contentHTML(u urls, r node.Resource, link string) string {
	var b strings.Builder
	b.WriteString("<p><strong>" + html.EscapeString(r.Title) + "</strong></p>")
	if r.Summary != "" {
		b.WriteString("<p>" + html.EscapeString(r.Summary) + "</p>")
	}
	if d := text.PlainText(r.Description); d != "" {
		if len(d) > 500 {
			d = strings.TrimSpace(d[:strings.LastIndex(d[:500], " ")+1]) + "…"
		}
		b.WriteString("<p>" + html.EscapeString(d) + "</p>")
	}
	b.WriteString(`<p><a href="` + html.EscapeString(link) + `">` + html.EscapeString(link) + `</a></p>`)
	b.WriteString(basedOnHTML(r.BasedOn))
	if len(r.Themes) > 0 {
		b.WriteString("<p>")
		for i, t := range r.Themes {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(`<a href="` + html.EscapeString(tagURL(u, t)) + `" class="mention hashtag" rel="tag">#<span>` + html.EscapeString(hashtag(t)) + `</span></a>`)
		}
		b.WriteString("</p>")
	}
	return b.String()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// published is what a kit's Note and a Collection share: a public object
// of this hub, its page at objectID, sent to its followers.
type published interface {
	SetActivityStreamsUrl(vocab.ActivityStreamsUrlProperty)
	SetActivityStreamsAttributedTo(vocab.ActivityStreamsAttributedToProperty)
	SetActivityStreamsTo(vocab.ActivityStreamsToProperty)
	SetActivityStreamsCc(vocab.ActivityStreamsCcProperty)
	SetActivityStreamsPublished(vocab.ActivityStreamsPublishedProperty)
}

// address sets o's page, author (this hub), audience (public, cc the
// followers) and publication date.
func (u urls) address(o published, objectID string, created time.Time) {
	link := streams.NewActivityStreamsUrlProperty()
	link.AppendIRI(mustURL(objectID))
	o.SetActivityStreamsUrl(link)
	by := streams.NewActivityStreamsAttributedToProperty()
	by.AppendIRI(mustURL(u.actor()))
	o.SetActivityStreamsAttributedTo(by)
	to := streams.NewActivityStreamsToProperty()
	to.AppendIRI(mustURL(asPublic))
	o.SetActivityStreamsTo(to)
	cc := streams.NewActivityStreamsCcProperty()
	cc.AppendIRI(mustURL(u.followers()))
	o.SetActivityStreamsCc(cc)
	pub := streams.NewActivityStreamsPublishedProperty()
	pub.Set(created.UTC().Truncate(time.Second))
	o.SetActivityStreamsPublished(pub)
}

// organisation is the member organisation of this hub that made an
// object, with its page here: another hub credits "par NAME (hub)".
func (u urls) organisation(slug, name string) map[string]any {
	return map[string]any{"type": "Organization", "name": cmp.Or(name, slug), "url": paths.Base(u.base).Organisation(slug)}
}
