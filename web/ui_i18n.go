package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// The UI speaks French first and English second. Every string a user reads
// comes from the catalogs in i18n/, so a template holds markup only and a
// translator edits one JSON file per language.

//go:embed i18n/*.json
var catalogFS embed.FS

// uiLangs lists the UI languages, the default first.
var uiLangs = []string{"fr", "en"}

var (
	catalogs    = mustLoadCatalogs()
	langMatcher = language.NewMatcher([]language.Tag{language.French, language.English})
)

func mustLoadCatalogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, l := range uiLangs {
		b, err := catalogFS.ReadFile("i18n/" + l + ".json")
		if err != nil {
			panic(fmt.Sprintf("i18n catalog %s: %v", l, err))
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("i18n catalog %s: %v", l, err))
		}
		out[l] = m
	}
	return out
}

// translate looks a key up; a missing key shows itself, so a forgotten
// translation is visible on the page and caught by the catalog test rather
// than rendering an empty label.
func translate(lang, key string, args ...any) string {
	msg, ok := catalogs[lang][key]
	if !ok {
		msg, ok = catalogs[uiLangs[0]][key]
	}
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// hasKey reports whether the catalog has a message for key.
func hasKey(lang, key string) bool {
	_, ok := catalogs[lang][key]
	return ok
}

const langCookie = "communs_lang"

// pickLang chooses the UI language: an explicit choice (the switch's
// cookie) wins over the browser's Accept-Language, French by default.
func pickLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && validLang(c.Value) {
		return c.Value
	}
	if al := r.Header.Get("Accept-Language"); al != "" {
		tags, _, err := language.ParseAcceptLanguage(al)
		if err == nil && len(tags) > 0 {
			_, idx, conf := langMatcher.Match(tags...)
			if conf != language.No {
				return uiLangs[idx]
			}
		}
	}
	return uiLangs[0]
}

func validLang(l string) bool {
	for _, x := range uiLangs {
		if x == l {
			return true
		}
	}
	return false
}

// safeNext keeps a redirect target on this site: a path, never a scheme or
// a protocol-relative URL another site could use to bounce users.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// langSwitch remembers the chosen language and returns to the page the
// user was on. It is a plain link so it works without JavaScript.
func (s *Server) langSwitch(w http.ResponseWriter, r *http.Request) {
	l := r.PathValue("lang")
	if !validLang(l) {
		s.notFoundPage(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies})
	http.Redirect(w, r, safeNext(r.URL.Query().Get("retour")), http.StatusSeeOther)
}

// formatDate writes a date the way each language does: "3 mars 2024",
// "3 March 2024".
func formatDate(lang string, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	day := fmt.Sprint(t.Day())
	if t.Day() == 1 {
		day = translate(lang, "date.first")
	}
	return fmt.Sprintf("%s %s %d", day, translate(lang, fmt.Sprintf("month.%d", int(t.Month()))), t.Year())
}

// formatDay formats a YYYY-MM-DD date, leaving anything else as written.
func formatDay(lang, day string) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return day
	}
	return formatDate(lang, t)
}

// humanSize is node.HumanSize in the reader's language: "1,5 Mo" / "1.5 MB".
func humanSize(lang string, n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d %s", n, translate(lang, "size.byte"))
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := strings.TrimSuffix(fmt.Sprintf("%.1f", float64(n)/float64(div)), ".0")
	if lang == "fr" {
		v = strings.Replace(v, ".", ",", 1)
	}
	return v + " " + translate(lang, "size."+string("KMGTPE"[exp]))
}
