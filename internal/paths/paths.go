// Package paths is the one place where the node's public routes and the
// addresses built from them are written. The web edge, the federation, the
// DCAT catalogue and OAI-PMH all hand out links to the same resources; the
// federation's links are object ids that peers store for good. Writing the
// patterns once, and building every link from the pattern it must match,
// means renaming a web route cannot silently change a federated id, and a
// link is never built for a route that does not exist.
//
// The patterns are http.ServeMux patterns without the method: register them
// as "GET " + paths.File. The builders fill each {wildcard} with
// url.PathEscape of its value, so ids and file names with spaces, accents,
// '#', '?', '%' or '/' come back intact from r.PathValue.
package paths

import (
	"net/url"
	"strings"
)

// Route patterns. Each builder below is the pattern with its wildcards filled.
const (
	// ResourcePrefix starts every resource address: the page, the AS2
	// object, the archive and the files.
	ResourcePrefix = "/r/"
	// Resource is the resource page and its ActivityPub object id; the
	// same pattern serves the kit archive, {id} ending in ZipSuffix.
	Resource = ResourcePrefix + "{id}"
	// File is one file of a resource.
	File = Resource + FilesSegment + "{name}"
	// ResourceReport takes the resource page's report form.
	ResourceReport = Resource + "/signalement"
	// FilesSegment separates a resource from its file name.
	FilesSegment = "/files/"
	// ZipSuffix, added to a resource address, is its kit archive.
	ZipSuffix = ".zip"

	// API is the prefix of the JSON API.
	API             = "/api/v1/"
	APIOpenAPI      = "/api/v1/openapi.json"
	APIResources    = "/api/v1/resources"
	APIResource     = APIResources + "/{id}"
	APIResourceFile = APIResource + "/files/{name}"
	// APIResourceReports takes anonymous reports about a resource.
	APIResourceReports = APIResource + "/reports"
	APILicenses        = "/api/v1/licenses"
	APISearch          = "/api/v1/search"
	// APIOrganisations lists the hub's member organisations (an admin
	// adds one with POST); APIOrganisation is one of them.
	APIOrganisations = "/api/v1/organisations"
	APIOrganisation  = APIOrganisations + "/{slug}"

	// Organisation is a member organisation's public page; its English
	// address OrganisationEN serves the same page.
	Organisation   = "/organisations/{slug}"
	OrganisationEN = "/organizations/{slug}"

	// ActivityPub: the hub's one actor and its collections.
	Actor       = "/actor"
	ActorKey    = Actor + "#main-key"
	Inbox       = Actor + "/inbox"
	SharedInbox = "/inbox"
	Outbox      = Actor + "/outbox"
	Followers   = Actor + "/followers"
	Following   = Actor + "/following"
	// Context is the JSON-LD context of the Communs vocabulary.
	Context = "/ns/communs"
	// Activities is the prefix of the ids of this hub's activities; they
	// are ids only, not served.
	Activities = "/activities/"
	NodeInfo   = "/nodeinfo/2.1"

	// Harvesting interfaces.
	OAI       = "/oai"
	Catalogue = "/catalogue.jsonld"

	// The hub's pictures: the federation actor points its icon and image here.
	Logo   = "/media/logo"
	Banner = "/media/banner"

	Home = "/"
	// Search is the search page; federated themes link to it (?theme=).
	Search  = "/recherche"
	Feed    = "/feed.atom"
	Sitemap = "/sitemap.xml"
	// SitemapPart is one file of a sitemap index.
	SitemapPart = "/sitemap-ressources.xml"
)

// fill replaces each {wildcard} of pattern, in order, by the path-escaped
// value. It panics on a missing value: that is a programming error caught
// by the tests of this package.
func fill(pattern string, values ...string) string {
	var b strings.Builder
	b.Grow(len(pattern) + 16*len(values))
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		j := strings.IndexByte(pattern[i:], '}')
		b.WriteString(pattern[:i])
		b.WriteString(url.PathEscape(values[0]))
		values = values[1:]
		pattern = pattern[i+j+1:]
	}
}

// ResourcePath is /r/{id}.
func ResourcePath(id string) string { return fill(Resource, id) }

// ZipPath is /r/{id}.zip, the kit archive.
func ZipPath(id string) string { return ResourcePath(id) + ZipSuffix }

// FilePath is /r/{id}/files/{name}.
func FilePath(id, name string) string { return fill(File, id, name) }

// OrganisationPath is /organisations/{slug}.
func OrganisationPath(slug string) string { return fill(Organisation, slug) }

// APIOrganisationPath is /api/v1/organisations/{slug}.
func APIOrganisationPath(slug string) string { return fill(APIOrganisation, slug) }

// APIResourcePath is /api/v1/resources/{id}.
func APIResourcePath(id string) string { return fill(APIResource, id) }

// APIFilePath is /api/v1/resources/{id}/files/{name}.
func APIFilePath(id, name string) string { return fill(APIResourceFile, id, name) }

// ActivityPath is /activities/{kind}/{id}, the id of one of this hub's
// activities.
func ActivityPath(kind, id string) string {
	return Activities + url.PathEscape(kind) + "/" + url.PathEscape(id)
}

// IsDownload tells whether a request path is a file or a kit archive
// (/r/{id}/files/{name} or /r/{id}.zip), the bodies that are already
// compressed or too large to compress on the fly.
func IsDownload(p string) bool {
	return strings.HasPrefix(p, ResourcePrefix) && (strings.Contains(p, FilesSegment) || strings.HasSuffix(p, ZipSuffix)) ||
		strings.HasPrefix(p, Collections+"/") && strings.HasSuffix(p, ZipSuffix) // a collection's zip (collections.go)
}

// Base is a hub's public URL (scheme and host, no trailing slash); its
// methods return absolute addresses.
type Base string

func (b Base) String() string { return string(b) }

// URL is the absolute address of a path built above or a route constant.
func (b Base) URL(path string) string { return string(b) + path }

func (b Base) Resource(id string) string       { return string(b) + ResourcePath(id) }
func (b Base) Organisation(slug string) string { return string(b) + OrganisationPath(slug) }
func (b Base) Zip(id string) string            { return string(b) + ZipPath(id) }
func (b Base) File(id, name string) string     { return string(b) + FilePath(id, name) }
func (b Base) Activity(kind, id string) string { return string(b) + ActivityPath(kind, id) }
func (b Base) Actor() string                   { return string(b) + Actor }
func (b Base) ActorKey() string                { return string(b) + ActorKey }
func (b Base) Inbox() string                   { return string(b) + Inbox }
func (b Base) SharedInbox() string             { return string(b) + SharedInbox }
func (b Base) Outbox() string                  { return string(b) + Outbox }
func (b Base) Followers() string               { return string(b) + Followers }
func (b Base) Following() string               { return string(b) + Following }
