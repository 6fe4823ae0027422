package web

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"

	"github.com/communs-numerique/communs/node"
)

// Paging bounds, the same on every list route (resources, search, pages).
// docs/API.md states them; a value outside is refused with a 400 that names
// the parameter and the bounds, never silently clamped.
const (
	// DefaultPerPage is the page size when the client gives none.
	DefaultPerPage = node.DefaultPerPage
	// MaxPerPage is the largest page a client may ask for.
	MaxPerPage = node.MaxPerPage
	// MaxPage is the deepest search page.
	MaxPage = node.MaxPage
	// maxSearchOffset is the engines' deep-paging bound (the offset of the
	// first hit of a page; node.MaxSearchOffset): past it a page would
	// cost every hit before it, so the client is asked to refine instead.
	maxSearchOffset = node.MaxSearchOffset
	// maxCursorLen bounds a page cursor: the node's cursors are short.
	maxCursorLen = 200
)

// pageSize reads a page size parameter (limit or per_page): absent means
// DefaultPerPage, otherwise a whole number between 1 and MaxPerPage.
func pageSize(v url.Values, name string) (int, error) {
	n, set, err := boundedInt(v, name, 1, MaxPerPage)
	if err != nil || !set {
		return DefaultPerPage, err
	}
	return n, nil
}

// pageNumber reads the 1-based search page: absent means 1; the page's first
// hit must lie within the engines' deep-paging bound for this page size.
func pageNumber(v url.Values, perPage int) (int, error) {
	n, set, err := boundedInt(v, "page", 1, lastPage(perPage))
	if err != nil || !set {
		return 1, err
	}
	return n, nil
}

// lastPage is the deepest search page a client may ask for at this size.
func lastPage(perPage int) int { return min(MaxPage, maxSearchOffset/perPage+1) }

// pageCursor reads an opaque cursor a previous page returned (name is the
// parameter: cursor in the API, apres on the pages). Its syntax is checked
// here; whether this node issued it is the catalog's check (also a 400).
func pageCursor(v url.Values, name string) (string, error) {
	c := v.Get(name)
	if c == "" {
		return "", nil
	}
	if len(c) > maxCursorLen {
		return "", &node.ValidationError{Field: name, Code: "invalid", Rule: "not a page cursor this node returned; follow the next link of the previous page"}
	}
	if _, err := base64.RawURLEncoding.DecodeString(c); err != nil {
		return "", &node.ValidationError{Field: name, Code: "invalid", Rule: "not a page cursor this node returned; follow the next link of the previous page"}
	}
	return c, nil
}

// boundedInt reads an optional whole-number parameter within [lo, hi].
func boundedInt(v url.Values, name string, lo, hi int) (int, bool, error) {
	s, ok := v[name]
	if !ok || (len(s) == 1 && s[0] == "") {
		return 0, false, nil // an empty form field means the default
	}
	if len(s) > 1 {
		return 0, false, &node.ValidationError{Field: name, Code: "invalid", Rule: "give it once"}
	}
	n, err := strconv.Atoi(s[0])
	if err != nil || n < lo || n > hi {
		return 0, false, &node.ValidationError{Field: name, Code: "invalid",
			Rule: fmt.Sprintf("must be a whole number between %d and %d (got %q)", lo, hi, s[0])}
	}
	return n, true, nil
}
