package node

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// File is one file of a resource. Its bytes live in the blob store under
// SHA256, so identical files are stored once.
type File struct {
	Name      string    `json:"name"`
	MediaType string    `json:"media_type"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Added     time.Time `json:"added"`
	// RemoteURL is set for a remote resource's file that is not mirrored:
	// downloads are sent to the origin hub.
	RemoteURL string `json:"remote_url,omitempty"`
	// RemoteSHA256 is the digest the origin announced for a file that is
	// not mirrored; SHA256 stays empty since no local blob holds it.
	RemoteSHA256 string `json:"remote_sha256,omitempty"`
}

// Metadata is what the authors say about a resource: the fields a client
// sends to publish it (web.ResourceInput), a kit's resource.json holds
// (kit.Meta, also written by internal/corpus) and a resource stores. It is
// declared once and embedded in each of those types; encoding/json flattens
// an embedded struct at the embedding's position, so the JSON keeps its keys
// and their order.
//
// Adding a field here adds it to all of them. Places that still name every
// field and need touching by hand:
//   - Resource.Normalize and Resource.Validate below (trimming, limits);
//   - Patch and Patch.apply in service.go (nil means "keep", so it uses
//     pointers and cannot embed Metadata; TestPatchCoversMetadata fails
//     until it has a pointer field for each Metadata field);
//   - the renderings for outside readers: ActivityPub (federation/vocab.go
//     writes, federation/parse.go reads), OAI-PMH Dublin Core (oaipmh/verbs.go), the DCAT
//     catalogue (catalogue/catalogue.go), the README of a zip
//     (web/download.go);
//   - search, if the field should be found, shown in a hit or faceted: Hit
//     (node/index.go, a lighter subset without Description and Authors), the
//     bleve document and mapping (storage/search/embedded/mapping.go), the
//     Meilisearch document and settings (storage/search/meili);
//   - the editor form (web/ui_editor.go), the resource page templates
//     and the i18n catalogues for its label;
//   - TestResourceJSONKeys (metadata_test.go), which pins the stored key
//     order;
//   - the OpenAPI schema (web/openapi/openapi.json), docs/API.md, and the corpus data (internal/corpus/data) if the demo
//     kits should carry it.
type Metadata struct {
	Title       string   `json:"title"`
	Summary     string   `json:"summary"`
	Description string   `json:"description"` // Markdown
	Kind        string   `json:"kind"`
	Themes      []string `json:"themes"`
	Audience    []string `json:"audience"`
	Level       string   `json:"level"`
	License     string   `json:"license"`
	Language    string   `json:"language"`
	Authors     []string `json:"authors"`
	// Hub is the slug of the regional hub that wrote the resource.
	Hub       string `json:"hub"`
	Published string `json:"published"` // YYYY-MM-DD, as the authors date it
	// Organisation is the slug of the member organisation of this hub that
	// owns a local resource (organisations.go); empty for none and for
	// copies from other hubs, which carry OrganisationName instead.
	Organisation string `json:"organisation,omitempty"`
}

// Resource is an openly licensed resource shared by a hub.
type Resource struct {
	ID string `json:"id"`
	Metadata
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Files   []File    `json:"files"`
	// Origin is empty for a local resource and holds the origin's object id
	// for a resource received from a peer.
	Origin string `json:"origin,omitempty"`
	// CreatedBy is the account that first published a local resource: an
	// editor without organisation may change only those (organisations.go).
	// The API does not show it.
	CreatedBy string `json:"created_by,omitempty"`
	// OrganisationName is the owning organisation's name: for a local
	// resource copied from this hub's organisation when it is assigned,
	// for a copy as its origin sent it (untrusted text, bounded by
	// ValidateRemoteOrganisation). OrganisationURL is a copy's link to the
	// organisation's page on its origin hub.
	OrganisationName string `json:"organisation_name,omitempty"`
	OrganisationURL  string `json:"organisation_url,omitempty"`
	// SharedBy is, for a copy received through another hub's share (an
	// Announce) rather than from its origin, the hub name of the followed
	// hub that shared it ("partagé par hub-b"); set by federation only.
	SharedBy string `json:"shared_by,omitempty"`
	// Version counts the changes kept in the resource's history
	// (history.go): 1 at creation, one more per change; the catalog sets
	// it in the write's transaction. 0 for a resource stored before
	// histories and not changed since.
	Version int `json:"version,omitempty"`
	// BasedOn is the attribution chain of an adaptation (adapt.go): the
	// oldest source first, the resource it was adapted from last.
	BasedOn []Source `json:"based_on,omitempty"`
}

// Local reports whether this node is the resource's origin.
func (r *Resource) Local() bool { return r.Origin == "" }

// File returns the named file.
func (r *Resource) File(name string) (File, bool) {
	for _, f := range r.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

var (
	slugRe     = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	dateLayout = "2006-01-02"
)

// Limits on free text keep pages light and a hostile peer from filling the
// catalog.
const (
	MaxIDLen          = 60
	maxTitleLen       = 200
	maxSummaryLen     = 1000
	maxDescriptionLen = 50000
	maxAuthors        = 10
	maxFileName       = 200
	MaxFiles          = 50
)

// Normalize trims free text and sorts nothing: order of themes and authors is
// meaningful to the authors.
func (r *Resource) Normalize() {
	r.ID = strings.TrimSpace(r.ID)
	r.Title = strings.TrimSpace(r.Title)
	r.Summary = strings.TrimSpace(r.Summary)
	r.Description = strings.TrimSpace(r.Description)
	r.Kind = strings.TrimSpace(r.Kind)
	r.Level = strings.TrimSpace(r.Level)
	r.License = strings.TrimSpace(r.License)
	r.Language = strings.ToLower(strings.TrimSpace(r.Language))
	r.Hub = strings.TrimSpace(r.Hub)
	r.Published = strings.TrimSpace(r.Published)
	r.Organisation = strings.TrimSpace(r.Organisation)
	r.Themes = cleanList(r.Themes)
	r.Audience = cleanList(r.Audience)
	r.Authors = cleanList(r.Authors)
}

func cleanList(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// Validate checks the metadata (not the licence policy, not the files).
func (r *Resource) Validate() error {
	if err := ValidateID(r.ID); err != nil {
		return err
	}
	if err := checkText("title", r.Title, 1, maxTitleLen); err != nil {
		return err
	}
	if err := checkText("summary", r.Summary, 0, maxSummaryLen); err != nil {
		return err
	}
	if err := checkText("description", r.Description, 0, maxDescriptionLen); err != nil {
		return err
	}
	if !contains(Kinds, r.Kind) {
		return invalid("kind", "must be one of %s (got %q)", strings.Join(Kinds, ", "), r.Kind)
	}
	if r.Level != "" && !contains(Levels, r.Level) {
		return invalid("level", "must be one of %s (got %q)", strings.Join(Levels, ", "), r.Level)
	}
	for _, t := range r.Themes {
		if !contains(Themes, t) {
			return invalid("themes", "unknown theme %q; known themes: %s", t, strings.Join(Themes, ", "))
		}
	}
	if len(r.Themes) > 8 {
		return invalid("themes", "at most 8 themes")
	}
	for _, a := range r.Audience {
		if !contains(Audiences, a) {
			return invalid("audience", "unknown audience %q; known audiences: %s", a, strings.Join(Audiences, ", "))
		}
	}
	if !IsLanguage(r.Language) {
		return invalid("language", "must be a two-letter ISO 639-1 code such as fr or en (got %q)", r.Language)
	}
	if len(r.Authors) > maxAuthors {
		return invalid("authors", "at most %d authors", maxAuthors)
	}
	for _, a := range r.Authors {
		if err := checkText("authors", a, 1, 200); err != nil {
			return err
		}
	}
	if r.Hub != "" && (!slugRe.MatchString(r.Hub) || len(r.Hub) > MaxIDLen) {
		return invalid("hub", "must be a slug of lowercase letters, digits and hyphens (got %q)", r.Hub)
	}
	if r.Organisation != "" {
		if err := ValidateOrganisationSlug("organisation", r.Organisation); err != nil {
			return err
		}
	}
	if r.Published != "" {
		if _, err := time.Parse(dateLayout, r.Published); err != nil {
			return invalid("published", "must be a date written YYYY-MM-DD (got %q)", r.Published)
		}
	}
	if err := validateSources(r.BasedOn); err != nil {
		return err
	}
	if len(r.Files) > MaxFiles {
		return invalid("files", "at most %d files per resource", MaxFiles)
	}
	names := make([]string, 0, len(r.Files))
	for _, f := range r.Files {
		if err := ValidateFileName(f.Name); err != nil {
			return err
		}
		names = append(names, f.Name)
	}
	return CheckFileNamesDistinct(names)
}

// ValidateID checks a resource id (a readable slug).
func ValidateID(id string) error {
	if id == "" {
		return invalid("id", "required")
	}
	if len(id) > MaxIDLen || !slugRe.MatchString(id) {
		return invalid("id", "must be at most %d lowercase letters, digits and single hyphens, like kit-atelier-smartphone (got %q)", MaxIDLen, id)
	}
	return nil
}

func checkText(field, v string, min, max int) error {
	if !utf8.ValidString(v) {
		return invalid(field, "must be valid UTF-8 text")
	}
	n := utf8.RuneCountInString(v)
	if n < min {
		if min == 1 {
			return invalid(field, "required")
		}
		return invalid(field, "must be at least %d characters", min)
	}
	if n > max {
		return invalid(field, "must be at most %d characters (got %d)", max, n)
	}
	for _, c := range v {
		if unicode.IsControl(c) && c != '\n' && c != '\r' && c != '\t' {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

// ValidateFileName refuses names that could escape a folder or confuse a
// download: path separators and characters that look like one, control and
// invisible formatting characters, dot names, names Windows reserves, and
// the names the kit zip writes itself. Every route that names a file (API
// multipart and PUT, editor form, kit import, peers) goes through it, so a
// name means the same thing everywhere.
func ValidateFileName(name string) error {
	switch {
	case name == "":
		return invalid("file name", "required")
	case !utf8.ValidString(name):
		return invalid("file name", "must be valid UTF-8")
	case utf8.RuneCountInString(name) > maxFileName:
		return invalid("file name", "must be at most %d characters", maxFileName)
	case strings.ContainsAny(name, `/\`):
		return invalid("file name", "must not contain / or \\ (got %q)", name)
	case name == "." || name == ".." || strings.HasPrefix(name, "."):
		return invalid("file name", "must not start with a dot (got %q)", name)
	case strings.TrimSpace(name) != name:
		return invalid("file name", "must not start or end with spaces (got %q)", name)
	case strings.HasSuffix(name, "."):
		// Windows drops trailing dots: "guide.pdf." would be saved as
		// another name than the one shown.
		return invalid("file name", "must not end with a dot (got %q)", name)
	}
	for _, c := range name {
		switch {
		case unicode.IsControl(c):
			return invalid("file name", "must not contain control characters")
		case unicode.Is(unicode.Cf, c):
			// Bidi overrides make "gpj.exe" show as "exe.jpg"; zero-width
			// characters make two different names look the same.
			return invalid("file name", "must not contain invisible formatting characters such as bidi controls or zero-width spaces (U+%04X)", c)
		case lookAlikeSlash(c):
			return invalid("file name", "must not contain characters that look like / or \\ (U+%04X)", c)
		}
	}
	if stem := windowsStem(name); windowsReserved[stem] {
		return invalid("file name", "%s is a name Windows reserves for a device (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any extension); the file could not be saved there (got %q)", stem, name)
	}
	switch FileNameKey(name) {
	case FileNameKey("resource.json"):
		return invalid("file name", "resource.json is reserved for the kit's metadata, in any case (got %q)", name)
	case FileNameKey("LICENCE.txt"):
		return invalid("file name", "LICENCE.txt is reserved for the licence notice of the kit's zip, in any case (got %q)", name)
	}
	return nil
}

// FileNameKey is the form under which two file names collide on the
// systems a kit is unzipped on: case-insensitive (Windows, macOS) and
// compatibility-normalised (a fullwidth "ｇuide.pdf" reads as "guide.pdf").
// Two files of a resource must have different keys.
func FileNameKey(name string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFKC.String(name)))
}

// CheckFileNamesDistinct refuses a list of names where two differ only by
// case or by look-alike forms: the zip (or a Windows or macOS folder) would
// hold one of them only.
func CheckFileNamesDistinct(names []string) error {
	seen := make(map[string]string, len(names))
	for _, n := range names {
		k := FileNameKey(n)
		if prev, ok := seen[k]; ok {
			if prev == n {
				return invalid("files", "file %q is listed twice", n)
			}
			return invalid("files", "files %q and %q differ only by case or look-alike characters; a zip or a Windows or macOS folder would keep one of them", prev, n)
		}
		seen[k] = n
	}
	return nil
}

// lookAlikeSlash reports characters drawn like a slash or a backslash, which
// would make "rapport∕..∕passwd" read as a path.
func lookAlikeSlash(c rune) bool {
	switch c {
	case '\u2215', // DIVISION SLASH
		'\u2044',           // FRACTION SLASH
		'\uFF0F',           // FULLWIDTH SOLIDUS
		'\u29F8',           // BIG SOLIDUS
		'\u29F9',           // BIG REVERSE SOLIDUS
		'\uFF3C',           // FULLWIDTH REVERSE SOLIDUS
		'\uFE68',           // SMALL REVERSE SOLIDUS
		'\u2216',           // SET MINUS
		'\u29F5',           // REVERSE SOLIDUS OPERATOR
		'\u2571',           // BOX DRAWINGS LIGHT DIAGONAL UPPER RIGHT TO LOWER LEFT
		'\u2572',           // BOX DRAWINGS LIGHT DIAGONAL UPPER LEFT TO LOWER RIGHT
		'\u27CB',           // MATHEMATICAL RISING DIAGONAL
		'\u27CD',           // MATHEMATICAL FALLING DIAGONAL
		'\u2CC6',           // COPTIC SMALL LETTER OLD COPTIC ESH (drawn as /)
		'\u2F03',           // KANGXI RADICAL SLASH
		'\u3033',           // VERTICAL KANA REPEAT MARK UPPER HALF
		'\u1735',           // PHILIPPINE SINGLE PUNCTUATION
		'\u0337', '\u0338', // COMBINING SHORT / LONG SOLIDUS OVERLAY
		'\u20E5': // COMBINING REVERSE SOLIDUS OVERLAY
		return true
	}
	// Anything else whose compatibility form holds a separator.
	if c > utf8.RuneSelf {
		return strings.ContainsAny(norm.NFKC.String(string(c)), `/\`)
	}
	return false
}

// windowsStem is the part of a name Windows matches against its device
// names: up to the first dot, trailing spaces dropped, upper case.
func windowsStem(name string) string {
	stem, _, _ := strings.Cut(name, ".")
	return strings.ToUpper(strings.TrimRight(stem, " "))
}

var windowsReserved = func() map[string]bool {
	m := map[string]bool{"CON": true, "PRN": true, "AUX": true, "NUL": true, "CONIN$": true, "CONOUT$": true}
	for _, d := range []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³"} {
		m["COM"+d], m["LPT"+d] = true, true
	}
	return m
}()

// Slugify turns a title into a readable id: "Créer sa première adresse
// e-mail" -> "creer-sa-premiere-adresse-e-mail".
func Slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, c):
			continue
		case c == 'œ':
			b.WriteString("oe")
			dash = false
		case c == 'æ':
			b.WriteString("ae")
			dash = false
		case c < utf8.RuneSelf && (unicode.IsLetter(c) || unicode.IsDigit(c)):
			b.WriteRune(c)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > MaxIDLen-4 { // leave room for a "-NNN" suffix
		out = strings.Trim(out[:MaxIDLen-4], "-")
	}
	if out == "" {
		out = "ressource"
	}
	return out
}

// ParseDate checks a YYYY-MM-DD date.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return t, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}
