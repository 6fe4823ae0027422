package node

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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

// Resource is an openly licensed resource shared by a hub.
type Resource struct {
	ID          string   `json:"id"`
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
	Hub       string    `json:"hub"`
	Published string    `json:"published"` // YYYY-MM-DD, as the authors date it
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Files     []File    `json:"files"`
	// Origin is empty for a local resource and holds the origin's object id
	// for a resource received from a peer.
	Origin string `json:"origin,omitempty"`
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
	if r.Published != "" {
		if _, err := time.Parse(dateLayout, r.Published); err != nil {
			return invalid("published", "must be a date written YYYY-MM-DD (got %q)", r.Published)
		}
	}
	if len(r.Files) > MaxFiles {
		return invalid("files", "at most %d files per resource", MaxFiles)
	}
	for _, f := range r.Files {
		if err := ValidateFileName(f.Name); err != nil {
			return err
		}
	}
	return nil
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
// download: path separators, control characters, dot names.
func ValidateFileName(name string) error {
	switch {
	case name == "":
		return invalid("file name", "required")
	case !utf8.ValidString(name):
		return invalid("file name", "must be valid UTF-8")
	case utf8.RuneCountInString(name) > maxFileName:
		return invalid("file name", "must be at most %d characters", maxFileName)
	case name == "." || name == ".." || strings.HasPrefix(name, "."):
		return invalid("file name", "must not start with a dot (got %q)", name)
	case strings.ContainsAny(name, `/\`):
		return invalid("file name", "must not contain / or \\ (got %q)", name)
	case strings.TrimSpace(name) != name:
		return invalid("file name", "must not start or end with spaces (got %q)", name)
	}
	for _, c := range name {
		if unicode.IsControl(c) {
			return invalid("file name", "must not contain control characters")
		}
	}
	if name == "resource.json" {
		return invalid("file name", "resource.json is reserved for the kit's metadata")
	}
	return nil
}

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
