package web

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"golang.org/x/net/html"

	"github.com/communs-numerique/communs/node"
)

// TestCatalogsMatch: every message exists in French and in English, so no
// page falls back to a key or to the other language.
func TestCatalogsMatch(t *testing.T) {
	fr, en := catalogs["fr"], catalogs["en"]
	for k, v := range fr {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is in fr.json but not in en.json", k)
		}
		if strings.TrimSpace(v) == "" {
			t.Errorf("fr.json: %q is empty", k)
		}
	}
	for k, v := range en {
		if _, ok := fr[k]; !ok {
			t.Errorf("key %q is in en.json but not in fr.json", k)
		}
		if strings.TrimSpace(v) == "" {
			t.Errorf("en.json: %q is empty", k)
		}
		if strings.Count(v, "%") != strings.Count(fr[k], "%") {
			t.Errorf("%q: the French and English messages take different arguments: %q / %q", k, fr[k], v)
		}
	}
}

var templateKeyRe = regexp.MustCompile(`\.(T|N) "([^"]+)"`)

// TestEveryUsedKeyExists checks the keys templates and handlers name, and
// the labels of the whole shared vocabulary.
func TestEveryUsedKeyExists(t *testing.T) {
	need := map[string]string{}
	files, _ := fs.Glob(templateFS, "templates/*.html")
	for _, f := range files {
		b, _ := templateFS.ReadFile(f)
		for _, m := range templateKeyRe.FindAllStringSubmatch(string(b), -1) {
			if m[1] == "N" {
				need[m[2]+".one"], need[m[2]+".other"] = f, f
			} else {
				need[m[2]] = f
			}
		}
	}
	goKey := regexp.MustCompile(`"((?:form|error|guide|login|editor|delete|search|home|hub|browse|resource|nav|layout|peers|count|feed)\.[a-z0-9_.]+)"`)
	goFiles, _ := filepath.Glob("ui_*.go")
	goFiles = append(goFiles, "pages.go")
	for _, f := range goFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goKey.FindAllStringSubmatch(string(b), -1) {
			k := m[1]
			// Template names and error-page prefixes (error.notfound +
			// .title/.what/.todo, checked below) are not messages.
			if strings.HasSuffix(k, ".html") || strings.HasSuffix(k, ".") || strings.HasPrefix(k, "error.") && strings.Count(k, ".") == 1 {
				continue
			}
			need[k] = f
		}
	}
	for _, k := range []string{"notfound", "forbidden", "unauthorized", "unavailable", "searchdown", "badrequest", "internal"} {
		for _, part := range []string{"title", "what", "todo"} {
			need["error."+k+"."+part] = "uiError"
		}
	}
	vocab := map[string][]string{"kind": node.Kinds, "kindp": node.Kinds, "theme": node.Themes, "audience": node.Audiences,
		"level": node.Levels, "facet": node.Facets, "language": uiResourceLanguages}
	for prefix, vs := range vocab {
		for _, v := range vs {
			need[prefix+"."+v] = "vocabulary"
		}
	}
	for _, field := range formFields {
		need["form.error."+field] = "editor form"
	}
	for _, p := range guideProfiles {
		need["guide.who."+p.Key] = "guide"
	}
	for _, n := range guideNeeds {
		need["guide.need."+n.Key] = "guide"
	}
	for i := 1; i <= 12; i++ {
		need[fmt.Sprintf("month.%d", i)] = "dates"
	}
	for k, where := range need {
		for _, l := range uiLangs {
			if _, ok := catalogs[l][k]; !ok {
				t.Errorf("%s uses key %q, missing from %s.json", where, k, l)
			}
		}
	}
	for _, n := range guideNeeds {
		for _, x := range n.Themes {
			if !contains(node.Themes, x) {
				t.Errorf("guide need %q maps to unknown theme %q", n.Key, x)
			}
		}
	}
	for _, p := range guideProfiles {
		if !contains(node.Audiences, p.Audience) {
			t.Errorf("guide profile %q maps to unknown audience %q", p.Key, p.Audience)
		}
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

var actionRe = regexp.MustCompile(`(?s)\{\{.*?\}\}`)

// TestTemplatesHoldNoText: a template's text and its user-facing attributes
// carry no words, only actions, so every string is in a catalog.
func TestTemplatesHoldNoText(t *testing.T) {
	files, _ := fs.Glob(templateFS, "templates/*.html")
	for _, f := range files {
		b, _ := templateFS.ReadFile(f)
		src := actionRe.ReplaceAllString(string(b), "")
		z := html.NewTokenizer(strings.NewReader(src))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				break
			}
			tok := z.Token()
			switch tt {
			case html.TextToken:
				if hasLetter(tok.Data) {
					t.Errorf("%s: text %q belongs in the message catalogs", f, strings.TrimSpace(tok.Data))
				}
			case html.StartTagToken, html.SelfClosingTagToken:
				for _, a := range tok.Attr {
					switch a.Key {
					case "title", "alt", "placeholder", "aria-label", "aria-description":
						if hasLetter(a.Val) {
							t.Errorf("%s: attribute %s=%q belongs in the message catalogs", f, a.Key, a.Val)
						}
					}
				}
			}
		}
	}
}

func hasLetter(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

func TestFormatting(t *testing.T) {
	cases := []struct{ got, want string }{
		{humanSize("fr", 1536), "1,5 Ko"},
		{humanSize("en", 1536), "1.5 KB"},
		{humanSize("fr", 3<<20), "3 Mo"},
		{humanSize("en", 512), "512 B"},
		{formatDay("fr", "2024-03-01"), "1er mars 2024"},
		{formatDay("en", "2024-03-15"), "15 March 2024"},
		{formatDay("fr", "pas une date"), "pas une date"},
		{safeNext("/recherche?q=x"), "/recherche?q=x"},
		{safeNext("//evil.example"), "/"},
		{safeNext("https://evil.example"), "/"},
		{safeNext("/\\evil.example"), "/"},
		{safeNext("javascript:alert(1)"), "/"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestMarkdownIsSanitised(t *testing.T) {
	for _, in := range []string{
		"<script>alert(1)</script>",
		"[x](javascript:alert(1))",
		"[x](JaVaScRiPt:alert(1))",
		"<a href=\"javascript:alert(1)\">x</a>",
		"![x](javascript:alert(1))",
		"<img src=x onerror=alert(1)>",
		"<iframe src=\"https://evil.example\"></iframe>",
		"<div style=\"background:url(javascript:alert(1))\">x</div>",
		"[x](vbscript:msgbox(1))",
		"<svg onload=alert(1)>",
	} {
		out := strings.ToLower(string(renderMarkdown(in)))
		for _, bad := range []string{"<script", "javascript:", "vbscript:", "onerror", "onload", "<iframe", "style=", "<svg"} {
			if strings.Contains(out, bad) {
				t.Errorf("markdown %q rendered %q: contains %q", in, out, bad)
			}
		}
	}
	if got := string(renderMarkdown("# Un\n\n**gras** et [lien](https://example.org)")); !strings.Contains(got, "<h3>Un</h3>") ||
		!strings.Contains(got, "<strong>gras</strong>") || !strings.Contains(got, `href="https://example.org"`) || !strings.Contains(got, `rel="nofollow"`) {
		t.Errorf("plain markdown rendered %q", got)
	}
}
