package oaipmh

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"

	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// xw writes the XML answer. Every text goes through xml.EscapeText, which
// also replaces characters XML cannot carry.
type xw struct{ b *bytes.Buffer }

func (x *xw) esc(s string) { xml.EscapeText(x.b, []byte(s)) }

func (x *xw) elem(name, text string) {
	x.b.WriteString("<" + name + ">")
	x.esc(text)
	x.b.WriteString("</" + name + ">\n")
}

func (x *xw) open(now time.Time) {
	x.b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	x.b.WriteString(`<OAI-PMH xmlns="` + namespaceOAI + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="` + namespaceOAI + " " + schemaOAI + `">` + "\n")
	x.elem("responseDate", now.UTC().Format(secondsLayo))
}

func (x *xw) close() { x.b.WriteString("</OAI-PMH>\n") }

// request echoes the request: the verb first, then the arguments sorted.
func (x *xw) request(base string, attrs map[string]string) {
	x.b.WriteString("<request")
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == "verb") != (keys[j] == "verb") {
			return keys[i] == "verb"
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		x.b.WriteString(" " + k + `="`)
		x.esc(attrs[k])
		x.b.WriteString(`"`)
	}
	x.b.WriteString(">")
	x.esc(base)
	x.b.WriteString("</request>\n")
}

func (h *Handler) start(x *xw, q *request) {
	x.open(h.now())
	attrs := map[string]string{"verb": q.verb}
	for k, v := range q.raw {
		attrs[k] = v
	}
	x.request(h.baseURL, attrs)
}

func (h *Handler) identify(ctx context.Context, x *xw, q *request) error {
	earliest := h.earliest(ctx)
	h.start(x, q)
	x.b.WriteString("<Identify>\n")
	x.elem("repositoryName", h.name)
	x.elem("baseURL", h.baseURL)
	x.elem("protocolVersion", protocolVersion)
	x.elem("adminEmail", h.adminEmail)
	x.elem("earliestDatestamp", earliest.Format(secondsLayo))
	x.elem("deletedRecord", deletedRecord)
	x.elem("granularity", granularity)
	x.b.WriteString("</Identify>\n")
	x.close()
	return nil
}

// resolve maps an OAI identifier to a local resource, or to its deletion.
// Anything else, remote copies included, does not exist here.
func (h *Handler) resolve(ctx context.Context, identifier string) (*node.Resource, *node.Change, error) {
	notHere := errorf(codeIDDoesNotExist, "%q is not an identifier of this repository (they read oai:%s:ID)", clip(identifier), h.host)
	id, ok := strings.CutPrefix(identifier, "oai:"+h.host+":")
	if !ok || node.ValidateID(id) != nil {
		return nil, nil, notHere
	}
	r, err := h.cat.Get(ctx, id)
	switch {
	case err == nil && r.Local():
		return &r, nil, nil
	case err == nil:
		return nil, nil, notHere // a remote copy: its origin's repository has it
	case !errors.Is(err, node.ErrNotFound):
		return nil, nil, err
	}
	del, err := h.lastDeletion(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if del == nil {
		return nil, nil, notHere
	}
	return nil, del, nil
}

func (h *Handler) listMetadataFormats(ctx context.Context, x *xw, q *request) error {
	if q.identifier != "" {
		if _, _, err := h.resolve(ctx, q.identifier); err != nil {
			return err
		}
	}
	h.start(x, q)
	x.b.WriteString("<ListMetadataFormats>\n<metadataFormat>\n")
	x.elem("metadataPrefix", formatDC)
	x.elem("schema", schemaOAIDC)
	x.elem("metadataNamespace", namespaceOAIDC)
	x.b.WriteString("</metadataFormat>\n</ListMetadataFormats>\n")
	x.close()
	return nil
}

// listSets lists the kinds and themes, each under its parent set. The list
// is short and complete: no resumption token is ever issued for it.
func (h *Handler) listSets(x *xw, q *request) error {
	if q.token != "" {
		return badToken("ListSets is never paged here")
	}
	h.start(x, q)
	x.b.WriteString("<ListSets>\n")
	set := func(spec, name string) {
		x.b.WriteString("<set>")
		x.elem("setSpec", spec)
		x.elem("setName", name)
		x.b.WriteString("</set>\n")
	}
	set("kind", "Types de ressource / resource kinds")
	for _, k := range node.Kinds {
		set("kind:"+k, "Type / kind : "+k)
	}
	set("theme", "Thèmes / themes")
	for _, t := range node.Themes {
		set("theme:"+t, "Thème / theme : "+t)
	}
	x.b.WriteString("</ListSets>\n")
	x.close()
	return nil
}

func (h *Handler) getRecord(ctx context.Context, x *xw, q *request) error {
	if q.prefix != formatDC {
		return errorf(codeCannotDisseminateFormat, "the metadata format %q is not offered; this repository offers oai_dc", q.prefix)
	}
	r, del, err := h.resolve(ctx, q.identifier)
	if err != nil {
		return err
	}
	h.start(x, q)
	x.b.WriteString("<GetRecord>\n")
	h.record(x, item{res: r, deleted: del}, true)
	x.b.WriteString("</GetRecord>\n")
	x.close()
	return nil
}

func (h *Handler) list(ctx context.Context, x *xw, q *request) error {
	now := h.now()
	var t *token
	if q.token != "" {
		var perr *oaiError
		if t, perr = decodeToken(q.token, q.verb, now); perr != nil {
			return perr
		}
	} else {
		if q.prefix != formatDC {
			return errorf(codeCannotDisseminateFormat, "the metadata format %q is not offered; this repository offers oai_dc", q.prefix)
		}
		if q.set != "" && !knownSet(q.set) {
			return errorf(codeNoRecordsMatch, "no set %q here; ListSets lists them", q.set)
		}
		t = &token{V: tokenVersion, Verb: q.verb, Prefix: q.prefix, Set: q.set, From: unixPtr(q.from), Until: unixPtr(q.until), Phase: phaseLive}
	}
	f := filter{from: timePtr(t.From), until: timePtr(t.Until), set: t.Set}
	items, next, more, err := h.scan(ctx, f, position{phase: t.Phase, after: t.After, seq: t.Seq}, pageSize)
	if errors.Is(err, errBadPosition) {
		return badToken("position")
	}
	if err != nil {
		return err
	}
	if len(items) == 0 {
		if q.token != "" {
			return errorf(codeNoRecordsMatch, "the rest of this list was deleted meanwhile")
		}
		return errorf(codeNoRecordsMatch, "no record matches these arguments")
	}
	if q.token == "" {
		switch {
		case !more:
			t.Total = len(items)
		default:
			n, ok, err := h.count(ctx, f)
			if err != nil {
				return err
			}
			if ok && n > len(items) {
				t.Total = n
			}
		}
	}
	h.start(x, q)
	x.b.WriteString("<" + q.verb + ">\n")
	for _, it := range items {
		h.record(x, it, q.verb == "ListRecords")
	}
	if more || q.token != "" {
		cursor := t.Cursor
		nt := *t
		nt.Cursor = cursor + len(items)
		if nt.Total > 0 && nt.Cursor >= nt.Total {
			nt.Total = 0 // the list grew: its size is no longer known
		}
		nt.Phase, nt.After, nt.Seq = next.phase, next.after, next.seq
		nt.Exp = now.Add(tokenTTL).Unix()
		x.b.WriteString("<resumptionToken")
		if more {
			x.b.WriteString(` expirationDate="` + time.Unix(nt.Exp, 0).UTC().Format(secondsLayo) + `"`)
		}
		total := t.Total
		if !more {
			total = cursor + len(items)
		}
		if total > 0 && total >= cursor+len(items) {
			x.b.WriteString(` completeListSize="` + strconv.Itoa(total) + `"`)
		}
		x.b.WriteString(` cursor="` + strconv.Itoa(cursor) + `">`)
		if more {
			x.esc(nt.encode())
		}
		x.b.WriteString("</resumptionToken>\n")
	}
	x.b.WriteString("</" + q.verb + ">\n")
	x.close()
	return nil
}

// record writes a header (ListIdentifiers) or a whole record.
func (h *Handler) record(x *xw, it item, full bool) {
	if full {
		x.b.WriteString("<record>\n")
	}
	if it.deleted != nil {
		x.b.WriteString(`<header status="deleted">` + "\n")
		x.elem("identifier", h.oaiID(it.deleted.ResourceID))
		x.elem("datestamp", it.deleted.At.UTC().Format(secondsLayo))
		x.b.WriteString("</header>\n")
		if full {
			x.b.WriteString("</record>\n")
		}
		return
	}
	r := it.res
	x.b.WriteString("<header>\n")
	x.elem("identifier", h.oaiID(r.ID))
	x.elem("datestamp", datestamp(r).Format(secondsLayo))
	if r.Kind != "" {
		x.elem("setSpec", "kind:"+r.Kind)
	}
	for _, t := range r.Themes {
		if setSpecRe.MatchString("theme:" + t) {
			x.elem("setSpec", "theme:"+t)
		}
	}
	x.b.WriteString("</header>\n")
	if full {
		x.b.WriteString("<metadata>\n")
		h.dublinCore(x, r)
		x.b.WriteString("</metadata>\n</record>\n")
	}
}

func (h *Handler) oaiID(id string) string { return "oai:" + h.host + ":" + id }

// dublinCore maps a resource to oai_dc: title, creator (authors), subject
// (themes), description (summary), publisher (the hub), date (as the
// authors date it, else its creation), type (kind), format (media types of
// its files), identifier (its page), language, rights (licence URL).
func (h *Handler) dublinCore(x *xw, r *node.Resource) {
	x.b.WriteString(`<oai_dc:dc xmlns:oai_dc="` + namespaceOAIDC + `" xmlns:dc="` + namespaceDC + `" xsi:schemaLocation="` + namespaceOAIDC + " " + schemaOAIDC + `">` + "\n")
	lang := ""
	if r.Language != "" {
		lang = ` xml:lang="` + r.Language + `"`
	}
	dc := func(name, text, attrs string) {
		if text == "" {
			return
		}
		x.b.WriteString("<dc:" + name + attrs + ">")
		x.esc(text)
		x.b.WriteString("</dc:" + name + ">\n")
	}
	dc("title", r.Title, lang)
	for _, a := range r.Authors {
		dc("creator", a, "")
	}
	for _, t := range r.Themes {
		dc("subject", t, "")
	}
	dc("description", r.Summary, lang)
	dc("publisher", h.name, "")
	date := r.Published
	if date == "" {
		date = r.Created.UTC().Format(dayLayout)
	}
	dc("date", date, "")
	dc("type", r.Kind, "")
	var types []string
	for _, f := range r.Files {
		if f.MediaType != "" && !slices.Contains(types, f.MediaType) {
			types = append(types, f.MediaType)
		}
	}
	for _, t := range types {
		dc("format", t, "")
	}
	dc("identifier", paths.Base(h.publicURL).Resource(r.ID), "")
	dc("language", r.Language, "")
	if l, ok := node.LookupLicense(r.License); ok {
		dc("rights", l.URL, "")
	} else if r.License != "" {
		dc("rights", r.License, "")
	}
	// An adaptation names what it derives from: the whole attribution
	// chain, oldest first (DCMI: "a related resource from which the
	// described resource is derived").
	for _, src := range r.BasedOn {
		dc("source", src.URL, "")
	}
	x.b.WriteString("</oai_dc:dc>\n")
}
