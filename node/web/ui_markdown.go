package web

import (
	"bytes"
	"html/template"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Descriptions come from editors and from peer hubs we do not control, so
// they are rendered in two guarded steps: goldmark without its unsafe
// option (raw HTML is dropped, javascript: and similar links are refused),
// then bluemonday's user-content policy as a second wall should a goldmark
// bug let something through.

// headingShift moves description headings below the page's own h1 and
// "Description" h2, keeping one h1 per page and a sane outline.
type headingShift struct{}

func (headingShift) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if h, ok := n.(*ast.Heading); ok && entering {
			h.Level = min(h.Level+2, 6)
		}
		return ast.WalkContinue, nil
	})
}

var (
	markdown = goldmark.New(
		goldmark.WithExtensions(extension.Strikethrough, extension.Table, extension.Linkify),
		goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(headingShift{}, 100))),
	)
	descriptionPolicy = func() *bluemonday.Policy {
		p := bluemonday.UGCPolicy()
		p.RequireNoFollowOnLinks(true)
		p.AllowURLSchemes("http", "https", "mailto")
		return p
	}()
)

// renderMarkdown turns a description into HTML safe to insert in a page.
func renderMarkdown(src string) template.HTML {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(src), &buf); err != nil {
		return template.HTML(template.HTMLEscapeString(src))
	}
	clean := descriptionPolicy.SanitizeBytes(buf.Bytes())
	// Images in descriptions load only when scrolled to: a mediator on a
	// poor connection reads the text first. Added after sanitising, as a
	// fixed attribute on tags the policy already let through.
	clean = bytes.ReplaceAll(clean, []byte("<img "), []byte(`<img loading="lazy" `))
	return template.HTML(clean)
}
