package federation

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Adaptations between hubs. An adaptation carries its attribution chain
// as communs:basedOn (objects with the Communs terms title, hub, authors,
// spdx, license) and schema:isBasedOn (the sources' URLs), both compact
// IRIs of prefixes the shared context already defines, so no context term
// changes; its content says "Adapté de « … »" for fediverse readers. The
// adapting hub delivers the adaptation's Create, Update and Delete to the
// inbox of the hub of its direct source (the last link) as well as to its
// followers; that hub, when the link names one of its own resources,
// lists the adaptation (node.Service.ReceiveAdaptation) whether or not it
// follows the adapting hub, and forgets it on the Delete.

// Keys of the chain in a resource object.
const (
	keyBasedOn   = "communs:basedOn"
	keyIsBasedOn = "schema:isBasedOn"
)

// FetchFile opens a peer's file through the federation client (its
// address guard and same-host redirects): the node's port to fetch the
// files of a copy it adapts (node.Service.SetFileFetcher).
func (f *Federation) FetchFile(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	return f.fetchFile(ctx, rawURL)
}

// basedOnTerms writes an adaptation's chain into its object.
func basedOnTerms(m map[string]any, chain []node.Source) {
	if len(chain) == 0 {
		return
	}
	links := make([]any, 0, len(chain))
	urls := make([]any, 0, len(chain))
	for _, s := range chain {
		links = append(links, map[string]any{"type": "Note", "id": s.URL, "url": s.URL, "title": s.Title,
			"hub": s.Hub, "authors": nonNil(s.Authors), "spdx": s.License, "license": licenseURL(s.License)})
		urls = append(urls, s.URL)
	}
	m[keyBasedOn] = links
	m[keyIsBasedOn] = urls
}

// basedOnHTML is the attribution line of an adaptation's post.
func basedOnHTML(chain []node.Source) string {
	if len(chain) == 0 {
		return ""
	}
	s := chain[len(chain)-1]
	line := "Adapté de « " + html.EscapeString(s.Title) + " »"
	if len(s.Authors) > 0 {
		line += " par " + html.EscapeString(strings.Join(s.Authors, ", "))
	}
	if s.Hub != "" {
		line += ", " + html.EscapeString(s.Hub)
	}
	if l, ok := node.LookupLicense(s.License); ok {
		line += ", sous licence " + html.EscapeString(l.Short)
	}
	return `<p>` + line + ` : <a href="` + html.EscapeString(s.URL) + `">` + html.EscapeString(s.URL) + `</a></p>`
}

// parseBasedOn reads an object's chain, bounded: more links than a node
// keeps refuses the object; a link without a URL is malformed. The text
// is checked by node's validation when the copy is saved.
func parseBasedOn(o map[string]any) ([]node.Source, error) {
	raw, ok := o[keyBasedOn]
	if !ok {
		raw, ok = o["basedOn"]
	}
	if !ok || raw == nil {
		return nil, nil
	}
	items, ok := raw.([]any)
	if !ok {
		if one, isObj := raw.(map[string]any); isObj {
			items = []any{one}
		} else {
			return nil, fmt.Errorf("%w: basedOn is not a list", errBadActivity)
		}
	}
	if len(items) > node.MaxBasedOn {
		return nil, fmt.Errorf("%w: basedOn has %d links, at most %d are read", errBadActivity, len(items), node.MaxBasedOn)
	}
	out := make([]node.Source, 0, len(items))
	for _, it := range items {
		d, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: a basedOn link is not an object", errBadActivity)
		}
		str := func(k string) string { s, _ := d[k].(string); return s }
		s := node.Source{URL: idOf(d["id"]), Title: str("title"), Hub: str("hub"), License: str("spdx")}
		if s.URL == "" {
			s.URL = idOf(d["url"])
		}
		if s.Title == "" {
			s.Title = str("name")
		}
		if a, ok := d["authors"].([]any); ok {
			if len(a) > 10 {
				return nil, fmt.Errorf("%w: a basedOn link has more than 10 authors", errBadActivity)
			}
			for _, v := range a {
				if name, ok := v.(string); ok {
					s.Authors = append(s.Authors, name)
				}
			}
		}
		if _, err := absURL(s.URL); err != nil {
			return nil, fmt.Errorf("%w: basedOn link: %v", errBadActivity, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// ownSource is the id of the local resource an object's direct source
// names, "" when the source is on another host; a source on this host
// that is not a local resource is a 4xx.
func (f *Federation) ownSource(ctx context.Context, obj map[string]any) (string, error) {
	if obj == nil {
		return "", nil
	}
	chain, err := parseBasedOn(obj)
	if err != nil {
		return "", httperr.Status(http.StatusBadRequest, err)
	}
	if len(chain) == 0 {
		return "", nil
	}
	src := chain[len(chain)-1].URL
	if hostOf(src) != f.host {
		return "", nil
	}
	prefix := paths.Base(f.urls.base).URL(paths.ResourcePrefix)
	rest, ok := strings.CutPrefix(src, prefix)
	id, uerr := url.PathUnescape(rest)
	if !ok || rest == "" || strings.ContainsAny(rest, "?#") || uerr != nil || strings.Contains(id, "/") {
		return "", httperr.Status(http.StatusBadRequest, fmt.Errorf("basedOn %s is not a resource of this hub", src))
	}
	res, err := f.svc.Get(ctx, id)
	if err != nil {
		return "", err // 404: not one of ours
	}
	if !res.Local() {
		return "", httperr.Status(http.StatusBadRequest, fmt.Errorf("basedOn %s is a copy on this hub, not one of its own resources", src))
	}
	return id, nil
}

// checkAdaptationNotice is the inbox's check of a Create or Update whose
// object says it adapts one of this hub's resources: that resource must
// exist here and be local, else it is refused before it is recorded.
func (f *Federation) checkAdaptationNotice(ctx context.Context, act incoming) error {
	_, err := f.ownSource(ctx, act.Object)
	if err != nil && f.follows(ctx, act.Actor) {
		return nil // a followed hub's resource is kept as a copy all the same
	}
	return err
}

// follows reports whether this hub follows actor.
func (f *Federation) follows(ctx context.Context, actor string) bool {
	p, err := f.peers.GetPeer(ctx, actor)
	return err == nil && p.Following == state.StateAccepted
}

// onAdaptationNotice lists an adaptation of one of this hub's resources.
// It reports true when that was all there was to do: the sender is not
// followed, so its object is not kept as a copy.
func (f *Federation) onAdaptationNotice(ctx context.Context, act incoming) (bool, error) {
	id, err := f.ownSource(ctx, act.Object)
	if err != nil && f.follows(ctx, act.Actor) {
		f.log.Info("adaptation not listed", "adaptation", act.ObjectID, "err", err)
		return false, nil
	}
	if err != nil || id == "" {
		return err != nil, err
	}
	p, err := f.peerFor(ctx, act.Actor)
	if err != nil {
		return true, fmt.Errorf("adaptation %s: actor %s: %w", act.ObjectID, act.Actor, err)
	}
	title, _ := act.Object["title"].(string)
	if title == "" {
		title, _ = act.Object["name"].(string)
	}
	a := node.Adaptation{URL: act.ObjectID, Title: title, Hub: p.Handle, Actor: act.Actor}
	if err := f.svc.ReceiveAdaptation(ctx, id, a); err != nil {
		return true, fmt.Errorf("adaptation %s of %s: %w", act.ObjectID, id, err)
	}
	f.log.Info("adaptation listed", "resource", id, "adaptation", act.ObjectID, "actor", act.Actor)
	return p.Following != state.StateAccepted, nil
}

// onAdaptationDelete forgets an adaptation its hub deleted.
func (f *Federation) onAdaptationDelete(ctx context.Context, act incoming) error {
	return f.svc.RemoveAdaptation(ctx, act.ObjectID, act.Actor)
}

// adaptNotices is the optional store of the source hubs' inboxes that
// heard of local adaptations (storage/catalog implements it).
type adaptNotices interface {
	SetAdaptationNotice(ctx context.Context, id, inbox string) error
	AdaptationNotice(ctx context.Context, id string) (string, error)
}

func (f *Federation) notices() adaptNotices {
	n, _ := f.announced.(adaptNotices)
	return n
}

// sourceInbox finds the inbox of the hub of an adaptation's direct
// source: the actor its object is attributed to, fetched through the
// federation client. "" for a source on this hub.
func (f *Federation) sourceInbox(ctx context.Context, r node.Resource) (string, error) {
	src := r.BasedOn[len(r.BasedOn)-1].URL
	if hostOf(src) == f.host {
		return "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var obj struct {
		AttributedTo any `json:"attributedTo"`
	}
	if err := f.getJSON(ctx, src, &obj); err != nil {
		return "", err
	}
	actor := idOf(obj.AttributedTo)
	if list, ok := obj.AttributedTo.([]any); ok && len(list) > 0 {
		actor = idOf(list[0])
	}
	if actor == "" || hostOf(actor) != hostOf(src) {
		return "", fmt.Errorf("%s names no actor on its own host", src)
	}
	p, err := f.peerFor(ctx, actor)
	if err != nil {
		return "", err
	}
	if p.SharedInbox != "" {
		return p.SharedInbox, nil
	}
	return p.Inbox, nil
}

// adaptationInboxes adds the source hub's inbox to the inboxes of a
// change of a local adaptation: found for a Create (and for an Update
// when it was not found before) and remembered, so the Update and the
// Delete reach it too. A source hub that cannot be reached is logged and
// skipped: its followers still get the activity.
func (f *Federation) adaptationInboxes(ctx context.Context, id string, r *node.Resource, inboxes []string) []string {
	n := f.notices()
	if n == nil {
		return inboxes
	}
	inbox, err := n.AdaptationNotice(ctx, id)
	if err != nil {
		f.log.Warn("adaptation notice: stored inbox not read", "resource", id, "err", err)
		return inboxes
	}
	if r == nil { // deleted
		if inbox != "" {
			if err := n.SetAdaptationNotice(context.WithoutCancel(ctx), id, ""); err != nil {
				f.log.Warn("adaptation notice: inbox not forgotten", "resource", id, "err", err)
			}
			return append(append([]string(nil), inboxes...), inbox)
		}
		return inboxes
	}
	if len(r.BasedOn) == 0 {
		return inboxes
	}
	if inbox == "" {
		inbox, err = f.sourceInbox(ctx, *r)
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				f.log.Warn("adaptation notice: the source's hub was not reached; it will not list this adaptation", "resource", id,
					"source", r.BasedOn[len(r.BasedOn)-1].URL, "err", err)
			}
			return inboxes
		}
		if inbox == "" {
			return inboxes
		}
		if err := n.SetAdaptationNotice(ctx, id, inbox); err != nil {
			f.log.Warn("adaptation notice: inbox not recorded", "resource", id, "err", err)
		}
	}
	return append(append([]string(nil), inboxes...), inbox)
}
