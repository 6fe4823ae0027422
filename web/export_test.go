package web

// SetSitemapMax lowers the URLs per sitemap file so a test reaches the
// sitemap index without 50,000 resources.
func SetSitemapMax(s *Server, n int) { s.sitemapMax = n }

var Initials = initials

// ValidJSONText exposes the surrogate scan to the external test package.
var ValidJSONText = validJSONText

// NormalizeRange exposes the Range rewriting to the external tests.
var NormalizeRange = normalizeRange

// ParsedRanges returns first and last (or -1 then suffix length) of a
// Range value the parser accepts.
func ParsedRanges(v string) [][2]int64 {
	specs, _ := parseRangeHeader(v)
	var out [][2]int64
	for _, s := range specs {
		if s.suffix {
			out = append(out, [2]int64{0, -1})
			continue
		}
		out = append(out, [2]int64{s.first, s.last})
	}
	return out
}
