package corpus

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/communs-numerique/communs/node"
)

// Synthetic returns n resources made by recombining the base resources, for
// benchmarks that need a catalog far larger than the demo corpus. Each one
// starts from a base resource and borrows title parts, sentences and list
// items from a partner of the same language sharing a theme, so word
// frequencies, field lengths and facet distributions stay those of real
// kits (a query hits about as many documents, proportionally, as it would
// on the corpus). The same base, n and seed always give the same resources;
// ids are unique ("<base id>-<number>").
func Synthetic(base []node.Resource, n int, seed uint64) []node.Resource {
	if len(base) == 0 || n <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	partners := map[string][]int{} // "lang/theme" -> indexes in base
	sameLang := map[string][]int{}
	var hubs []string
	for i, r := range base {
		sameLang[r.Language] = append(sameLang[r.Language], i)
		for _, t := range r.Themes {
			k := r.Language + "/" + t
			partners[k] = append(partners[k], i)
		}
		if r.Hub != "" && !slices.Contains(hubs, r.Hub) {
			hubs = append(hubs, r.Hub)
		}
	}
	slices.Sort(hubs)
	first := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	days := int(time.Date(2025, 10, 31, 0, 0, 0, 0, time.UTC).Sub(first).Hours() / 24)

	out := make([]node.Resource, n)
	for i := range out {
		t := base[rng.IntN(len(base))]
		pool := sameLang[t.Language]
		if len(t.Themes) > 0 {
			if p := partners[t.Language+"/"+t.Themes[rng.IntN(len(t.Themes))]]; len(p) > 1 {
				pool = p
			}
		}
		p := base[pool[rng.IntN(len(pool))]]
		published := first.AddDate(0, 0, rng.IntN(days+1))
		r := node.Resource{
			ID: fmt.Sprintf("%s-%07d", strings.TrimRight(truncate(t.ID, 48), "-"), i),
			Metadata: node.Metadata{
				Title:       mixTitle(rng, t, p),
				Summary:     mixSummary(rng, t.Summary, p.Summary),
				Description: mixDescription(rng, t.Description, p.Description),
				Kind:        pick(rng, t.Kind, p.Kind),
				Themes:      mixThemes(rng, t.Themes, p.Themes),
				Audience:    slices.Clone(pickSlice(rng, t.Audience, p.Audience)),
				Level:       node.Levels[rng.IntN(len(node.Levels))],
				License:     t.License,
				Language:    t.Language,
				Authors:     slices.Clone(pickSlice(rng, t.Authors, p.Authors)),
				Hub:         t.Hub,
				Published:   published.Format("2006-01-02"),
			},
			Created: published,
			Updated: published,
			Files:   slices.Clone(t.Files),
		}
		if len(hubs) > 0 {
			r.Hub = hubs[rng.IntN(len(hubs))]
		}
		out[i] = r
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func pick(rng *rand.Rand, a, b string) string {
	if rng.IntN(2) == 0 {
		return a
	}
	return b
}

func pickSlice(rng *rand.Rand, a, b []string) []string {
	if len(b) > 0 && rng.IntN(2) == 1 {
		return b
	}
	return a
}

var qualifiers = map[string][]string{
	"fr": {"fiche mémo", "version atelier", "pas à pas", "pour les seniors", "pour les jeunes", "spécial associations", "en 10 minutes", "deuxième édition", "pour les aidants", "en FALC"},
	"en": {"quick guide", "step by step", "for volunteers", "second edition", "for libraries", "in 10 minutes"},
}

// mixTitle keeps most of the template's title: swapping the part after the
// colon, one word, or adding a qualifier still reads like a kit title.
func mixTitle(rng *rand.Rand, t, p node.Resource) string {
	title := t.Title
	th, _, tOK := strings.Cut(t.Title, " : ")
	_, pt, pOK := strings.Cut(p.Title, " : ")
	switch rng.IntN(4) {
	case 0:
		if tOK && pOK {
			title = th + " : " + pt
		}
	case 1:
		tw, pw := strings.Fields(title), strings.Fields(p.Title)
		if len(tw) == 0 || len(pw) == 0 {
			break
		}
		i, j := rng.IntN(len(tw)), rng.IntN(len(pw))
		if len([]rune(tw[i])) >= 5 && len([]rune(pw[j])) >= 5 {
			tw[i] = pw[j]
			title = strings.Join(tw, " ")
		}
	case 2:
		q := qualifiers[t.Language]
		if len(q) == 0 {
			q = qualifiers["fr"]
		}
		title += " (" + q[rng.IntN(len(q))] + ")"
	}
	return title
}

func sentences(s string) []string {
	var out []string
	for s != "" {
		i := strings.Index(s, ". ")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+2:]
	}
	return out
}

func mixSummary(rng *rand.Rand, t, p string) string {
	ts, ps := sentences(t), sentences(p)
	if len(ps) == 0 || rng.IntN(3) == 0 {
		return t
	}
	return ts[0] + " " + ps[rng.IntN(len(ps))]
}

// mixDescription keeps the template's outline (headings, paragraphs) and
// swaps about a third of its list items for items of the partner.
func mixDescription(rng *rand.Rand, t, p string) string {
	var items []string
	for l := range strings.SplitSeq(p, "\n") {
		if isItem(l) {
			items = append(items, l)
		}
	}
	lines := strings.Split(t, "\n")
	for i, l := range lines {
		if isItem(l) && len(items) > 0 && rng.IntN(3) == 0 {
			lines[i] = items[rng.IntN(len(items))]
		}
	}
	return strings.Join(lines, "\n")
}

func isItem(l string) bool {
	l = strings.TrimSpace(l)
	if strings.HasPrefix(l, "- ") {
		return true
	}
	i := 0
	for i < len(l) && l[i] >= '0' && l[i] <= '9' {
		i++
	}
	return i > 0 && strings.HasPrefix(l[i:], ". ")
}

func mixThemes(rng *rand.Rand, t, p []string) []string {
	out := slices.Clone(t)
	for _, th := range p {
		if len(out) >= 4 {
			break
		}
		if !slices.Contains(out, th) && rng.IntN(2) == 0 {
			out = append(out, th)
		}
	}
	return out
}
