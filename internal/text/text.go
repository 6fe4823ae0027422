// Package text turns the Markdown descriptions editors and peer hubs write
// into what each audience gets: sanitised HTML for the web pages, plain
// text for search indexing, snippets and fediverse posts. It sits apart
// from the web edge and the search engines so that the federation, the
// indexers and the pages share one reading of a description without
// importing each other.
package text

import (
	"bytes"
	"html/template"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	gmtext "github.com/yuin/goldmark/text"
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

func (headingShift) Transform(doc *ast.Document, _ gmtext.Reader, _ parser.Context) {
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

// MarkdownHTML turns a description into HTML safe to insert in a page.
func MarkdownHTML(src string) template.HTML {
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

// emphasis drops the emphasis and code markers PlainText removes. Built
// once: a Replacer per line was half of PlainText's time, which every
// indexed resource and every federated object pays.
var emphasis = strings.NewReplacer("**", "", "__", "", "`", "")

// PlainText turns a description written in Markdown into the text a reader
// sees: emphasis markers, heading hashes, list bullets and link targets go
// away and whitespace collapses. Both engines index and snippet this text,
// so "**Objectifs**" never shows up as asterisks in a result.
func PlainText(md string) string {
	var b strings.Builder
	b.Grow(len(md))
	for line := range strings.SplitSeq(md, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimLeft(line, "#>")
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "- "), strings.HasPrefix(line, "* "), strings.HasPrefix(line, "+ "):
			line = line[2:]
		default:
			// "1. " and "12) " numbered items keep their number, which can
			// matter ("10 réflexes"), but lose the punctuation.
			i := 0
			for i < len(line) && line[i] >= '0' && line[i] <= '9' {
				i++
			}
			if i > 0 && i+1 < len(line) && (line[i] == '.' || line[i] == ')') && line[i+1] == ' ' {
				line = line[:i] + line[i+1:]
			}
		}
		line = stripLinks(line)
		line = emphasis.Replace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(line)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// stripLinks keeps the text of [text](target) links.
func stripLinks(s string) string {
	for {
		open := strings.Index(s, "](")
		if open < 0 {
			return s
		}
		start := strings.LastIndex(s[:open], "[")
		end := strings.Index(s[open:], ")")
		if start < 0 || end < 0 {
			return s
		}
		s = s[:start] + s[start+1:open] + s[open+end+1:]
	}
}
