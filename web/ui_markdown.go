package web

import (
	"html/template"

	"github.com/communs-numerique/communs/internal/text"
)

// renderMarkdown turns a description into HTML safe to insert in a page
// (goldmark without raw HTML, then bluemonday; see internal/text).
func renderMarkdown(src string) template.HTML { return text.MarkdownHTML(src) }
