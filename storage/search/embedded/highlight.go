package embedded

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"

	"github.com/communs-numerique/communs/storage/search"
)

// snippetWords is the length of a description snippet, about two lines on a
// phone (Meilisearch's cropLength counts words the same way).
const snippetWords = 28

// highlight marks the query words in a hit's title, summary and
// description. It re-analyses the stored text rather than asking bleve for
// term locations: locations would have to be read for every matching
// document, not only the page shown, and would cost term vectors in the
// index. The rules mirror the query: same stem, same word, within the typo
// budget, or a completion of the last word.
func (x *Index) highlight(words []word, s *stored) map[string]string {
	lang := x.fr
	if docLanguage(s.Language) == "en" {
		lang = x.en
	}
	in := queryInitials(words)
	out := map[string]string{
		"title":   search.MarkHTML(s.Title, x.matches(s.Title, lang, words, in, nil)),
		"summary": search.MarkHTML(s.Summary, x.matches(s.Summary, lang, words, in, nil)),
	}
	var toks []span
	spans := x.matches(s.Description, lang, words, in, &toks)
	if len(spans) > 0 {
		out["description"] = crop(s.Description, toks, spans)
	}
	return out
}

type span = search.Span

// matches returns the byte spans of text that match a query word. When toks
// is not nil it receives the spans of all the words of text, for cropping.
//
// Words are split with a plain rune scan rather than bleve's UAX #29
// segmenter, only words starting like a query form are analysed (in can
// tell from the first byte), and only those sharing their first two letters
// with one are stemmed: on a page of hits this was most of the search time.
func (x *Index) matches(text string, lang analysis.Analyzer, words []word, in *initials, toks *[]span) []span {
	if text == "" {
		return nil
	}
	spans := wordSpans(text)
	if toks != nil {
		*toks = spans
	}
	var cands []span
	for _, sp := range spans {
		if in.mayMatch(text[sp.Start:sp.End]) {
			cands = append(cands, sp)
		}
	}
	raws := x.rawForms(text, cands)
	var out []span
	for i, sp := range cands {
		raw := raws[i]
		if raw == "" {
			continue
		}
		matched, maybeStem := false, false
		for _, w := range words {
			if w.matches(raw, "", false) {
				matched = true
				break
			}
			maybeStem = maybeStem || w.sharesStart(raw)
		}
		if !matched && maybeStem {
			if stem, ok := x.stem(lang, text[sp.Start:sp.End]); ok {
				matched = slices.ContainsFunc(words, func(w word) bool { return slices.Contains(w.stems, stem) })
			}
		}
		if !matched {
			continue
		}
		// "l'arnaque" is one word; mark "arnaque", the word searched for.
		orig := text[sp.Start:sp.End]
		if i := strings.IndexAny(orig, "'’"); i >= 0 && i <= len("jusqu") {
			_, size := utf8.DecodeRuneInString(orig[i:])
			sp.Start += i + size
		}
		out = append(out, sp)
	}
	return out
}

// matches reports whether a word of a document, in its raw form (and its
// stem when known), matches the query word: the rules of the query itself.
func (w word) matches(raw, stem string, hasStem bool) bool {
	switch {
	case raw == w.raw, hasStem && slices.Contains(w.stems, stem):
		return true
	case w.prefix && utf8.RuneCountInString(w.raw) >= minPrefix && strings.HasPrefix(raw, w.raw):
		return true
	case w.typos > 0:
		a, _ := utf8.DecodeRuneInString(raw)
		b, _ := utf8.DecodeRuneInString(w.raw)
		return a == b && withinDistance(raw, w.raw, w.typos)
	}
	return false
}

// initials holds the first bytes of a query's forms (raw words and stems).
// A word of a document matches a query word when it is the same word, has
// the same stem, completes it or is within its typo budget, and in every
// case starts with the same letter (stemmers only change endings, and a
// typo on the first letter is not tolerated): a word starting otherwise
// need not be analysed at all, which spares most of a description.
type initials [256]bool

func queryInitials(words []word) *initials {
	var in initials
	for _, w := range words {
		if w.raw != "" {
			in[w.raw[0]] = true
		}
		for _, s := range w.stems {
			if s != "" {
				in[s[0]] = true
			}
		}
	}
	return &in
}

// mayMatch reports whether a word of a text may match. Its raw form starts
// with its first byte lower-cased, except when it starts with a non-ASCII
// letter (folded: "É" reads "e") or carries an apostrophe (elided:
// "l'arnaque" reads "arnaque"); those are analysed in full.
func (in *initials) mayMatch(w string) bool {
	c := w[0]
	// 0xE2 starts "’" (and other punctuation: analysing a few words too
	// many is harmless).
	if c >= utf8.RuneSelf || strings.IndexByte(w, '\'') >= 0 || strings.IndexByte(w, 0xE2) >= 0 {
		return true
	}
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	return in[c]
}

// rawForms is x.rawChain.run with a fast path for ASCII words (most words,
// even in French), which only need lower-casing and elision.
func (x *Index) rawForms(text string, spans []span) []string {
	out := make([]string, len(spans))
	var slow []span
	var slowAt []int
	for i, sp := range spans {
		w := text[sp.Start:sp.End]
		if !isASCII([]byte(w)) {
			slow = append(slow, sp)
			slowAt = append(slowAt, i)
			continue
		}
		w = strings.ToLower(w)
		if j := strings.IndexByte(w, '\''); j > 0 && frenchArticles[w[:j]] {
			w = w[j+1:]
		}
		out[i] = w
	}
	if len(slow) > 0 {
		for k, r := range x.rawChain.run(text, slow) {
			out[slowAt[k]] = r
		}
	}
	return out
}

// frenchArticles are the elided words of bleve's French elision filter.
var frenchArticles = map[string]bool{
	"l": true, "m": true, "t": true, "qu": true, "n": true, "s": true, "j": true, "d": true, "c": true,
	"jusqu": true, "quoiqu": true, "lorsqu": true, "puisqu": true,
}

// sharesStart is a cheap test for "could stem like one of the word's
// stems": stemmers only change endings.
func (w word) sharesStart(raw string) bool {
	n := min(2, len(raw))
	if strings.HasPrefix(w.raw, raw[:n]) {
		return true
	}
	for _, s := range w.stems {
		if strings.HasPrefix(s, raw[:n]) {
			return true
		}
	}
	return false
}

// stem analyses one word with a language analyzer.
func (x *Index) stem(lang analysis.Analyzer, w string) (string, bool) {
	chain := x.frChain
	if lang == x.en {
		chain = x.enChain
	}
	t := chain.run(w, []span{{Start: 0, End: len(w)}})
	return t[0], t[0] != ""
}

// chain is an analyzer's token filters, run on words split by wordSpans.
type chain []analysis.TokenFilter

func newChain(a analysis.Analyzer) chain {
	if d, ok := a.(*analysis.DefaultAnalyzer); ok {
		return d.TokenFilters
	}
	return nil
}

// run returns the analysed form of each span, "" for removed words.
func (c chain) run(text string, spans []span) []string {
	stream := make(analysis.TokenStream, len(spans))
	for i, sp := range spans {
		stream[i] = &analysis.Token{Term: []byte(text[sp.Start:sp.End]), Start: sp.Start, End: sp.End, Position: i + 1, Type: analysis.AlphaNumeric}
	}
	for _, f := range c {
		stream = f.Filter(stream)
	}
	out := make([]string, len(spans))
	j := 0
	for i, sp := range spans {
		if j < len(stream) && stream[j].Start == sp.Start {
			out[i] = string(stream[j].Term)
			j++
		}
	}
	return out
}

// wordSpans splits text into words the way the index tokenizer mostly does:
// letters, digits and combining marks, joined across an apostrophe, a dot
// or a colon between two of them ("l’arnaque", "impots.gouv.fr").
func wordSpans(text string) []span {
	// About one word per seven bytes in French prose: one allocation
	// instead of a dozen growing a description's spans.
	out := make([]span, 0, len(text)/7+1)
	start := -1
	for i := 0; i < len(text); {
		r, size := rune(text[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		switch {
		case isWordRune(r):
			if start < 0 {
				start = i
			}
		case start >= 0 && isJoiner(r) && i+size < len(text):
			next, _ := utf8.DecodeRuneInString(text[i+size:])
			if !isWordRune(next) {
				out = append(out, span{Start: start, End: i})
				start = -1
			}
		case start >= 0:
			out = append(out, span{Start: start, End: i})
			start = -1
		}
		i += size
	}
	if start >= 0 {
		out = append(out, span{Start: start, End: len(text)})
	}
	return out
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || r == '_'
}

func isJoiner(r rune) bool {
	return r == '\'' || r == '’' || r == '.' || r == ':'
}

// withinDistance reports whether a and b are at most k edits apart, a
// transposition of two neighbours counting as one edit, as in the query's
// automata.
func withinDistance(a, b string, k int) bool {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > k || -d > k {
		return false
	}
	// Three rows: the transposition looks two rows back.
	pp := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
		pp, prev, cur = prev, cur, pp
	}
	return prev[len(rb)] <= k
}

// crop cuts a window of snippetWords words around the densest group of
// matches, starting a few words before the first one so the match reads in
// context, with ellipses where text was cut.
func crop(text string, toks, marks []span) string {
	if len(toks) <= snippetWords {
		return search.MarkHTML(text, marks)
	}
	isMark := make([]bool, len(toks))
	for i, t := range toks {
		isMark[i] = slices.ContainsFunc(marks, func(m span) bool { return m.Start >= t.Start && m.Start < t.End })
	}
	best, bestCount := 0, -1
	for i, m := range isMark {
		if !m {
			continue
		}
		from := max(0, min(i-4, len(toks)-snippetWords))
		n := 0
		for _, mm := range isMark[from : from+snippetWords] {
			if mm {
				n++
			}
		}
		if n > bestCount {
			best, bestCount = from, n
		}
	}
	last := best + snippetWords - 1
	start, end := toks[best].Start, toks[last].End
	if best == 0 {
		start = 0
	}
	if last == len(toks)-1 {
		end = len(text)
	}
	var local []span
	for _, m := range marks {
		if m.Start >= start && m.End <= end {
			local = append(local, span{Start: m.Start - start, End: m.End - start})
		}
	}
	var b strings.Builder
	if start > 0 {
		b.WriteString("…")
	}
	b.WriteString(search.MarkHTML(text[start:end], local))
	if end < len(text) {
		b.WriteString("…")
	}
	return b.String()
}
