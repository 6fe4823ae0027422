package federation

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/go-fed/activity/streams"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/internal/text"
	"github.com/communs-numerique/communs/node"
)

// A collection federates as an AS2 Collection: name, summary, content
// (the description as sanitised HTML, its Markdown in source), the hub's
// actor as attributedTo, the member organisation like a resource's, and
// its items in order as communs:items, each the object id of a resource
// ({"id", "note"}): this node's /r/{id} for a local resource, the origin's
// object id for a copy. A follower resolves each item to its own copy.

// itemsKey carries the items: a compact IRI, so the shared context (and
// every golden file) stays as it is.
const itemsKey = "communs:items"

// collectionFetchBudget bounds the time a follower spends fetching the
// items of one collection it does not have yet: a collection of 200 items
// on slow hubs must not hold the inbox worker for 200 timeouts.
var collectionFetchBudget = 60 * time.Second

// Reasons shown for the items of a copy this node could not resolve,
// plain French for visitors.
const (
	reasonLicence     = "non disponible sur ce hub : licence hors politique"
	reasonBlocked     = "non disponible sur ce hub : hub d'origine bloqué"
	reasonNotFollowed = "non disponible sur ce hub : hub d'origine non suivi"
	reasonUnreachable = "non disponible sur ce hub : hub d'origine injoignable"
	reasonNotFound    = "non disponible sur ce hub : ressource introuvable"
	reasonRefused     = "non disponible sur ce hub : ressource refusée par ce hub"
	reasonDropped     = "non disponible sur ce hub : retirée par l'administration de ce hub"
)

func (u urls) collection(id string) string {
	// The page address is also the object id (the web side serves the
	// page there): one route table, internal/paths.
	return paths.Base(u.base).Collection(id)
}

// collectionItem is an item as it travels: the resource's object id, its
// title (name: so a follower that cannot resolve it still says what it
// was) and the curator's note.
type collectionItem struct {
	ID, Name, Note string
}

// announceKey names a collection in the publisher's announced records,
// apart from resources (ids are slugs: no slash).
func announceKey(id string) string { return "collection/" + id }

// collectionObject is a local collection as an AS2 Collection.
func collectionObject(u urls, c node.Collection, items []collectionItem) (map[string]any, error) {
	if !c.Local() {
		return nil, fmt.Errorf("collection %s comes from %s: only local collections are federated", c.ID, c.Origin)
	}
	objectID := u.collection(c.ID)
	col := streams.NewActivityStreamsCollection()
	col.SetJSONLDId(idProp(objectID))
	n := streams.NewActivityStreamsNameProperty()
	n.AppendXMLSchemaString(c.Title)
	col.SetActivityStreamsName(n)
	if c.Summary != "" {
		s := streams.NewActivityStreamsSummaryProperty()
		s.AppendXMLSchemaString(html.EscapeString(c.Summary)) // AS2 summary is HTML
		col.SetActivityStreamsSummary(s)
	}
	if c.Description != "" {
		ct := streams.NewActivityStreamsContentProperty()
		ct.AppendXMLSchemaString(string(text.MarkdownHTML(c.Description)))
		col.SetActivityStreamsContent(ct)
	}
	u.address(col, objectID, c.Created)
	total := streams.NewActivityStreamsTotalItemsProperty()
	total.Set(len(items))
	col.SetActivityStreamsTotalItems(total)
	m, err := serialize(col)
	if err != nil {
		return nil, err
	}
	list := make([]any, 0, len(items))
	for _, it := range items {
		e := map[string]any{"id": it.ID}
		if it.Name != "" {
			e["name"] = it.Name
		}
		if it.Note != "" {
			e["note"] = it.Note
		}
		list = append(list, e)
	}
	m[itemsKey] = list
	if c.Summary != "" {
		m["abstract"] = c.Summary // the plain text, as for resources
	}
	m["slug"] = c.ID
	m["hub"] = c.Hub
	m["dateModified"] = c.Updated.UTC().Truncate(time.Second).Format(time.RFC3339)
	m["source"] = map[string]any{"content": c.Description, "mediaType": "text/markdown"}
	if c.Organisation != "" {
		m["organisation"] = u.organisation(c.Organisation, c.OrganisationName)
	}
	return m, nil
}

// collectionDoc is collectionObject with each item's object id looked up:
// a resource deleted meanwhile is left out (its collection's own change
// follows in the feed).
func (f *Federation) collectionDoc(ctx context.Context, c node.Collection) (map[string]any, error) {
	items := make([]collectionItem, 0, len(c.Items))
	for _, it := range c.Items {
		r, err := f.svc.Get(ctx, it.Resource)
		if errors.Is(err, node.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		id := r.Origin
		if r.Local() {
			id = f.urls.object(r.ID)
		}
		items = append(items, collectionItem{ID: id, Name: r.Title, Note: it.Note})
	}
	return collectionObject(f.urls, c, items)
}

// CollectionObject is the AS2 document of a local collection, which the
// collection's page answers to Accept: application/activity+json.
func (f *Federation) CollectionObject(ctx context.Context, c node.Collection) (map[string]any, error) {
	return f.collectionDoc(ctx, c)
}

// collectionJSON answers GET /collections/{id} asked as ActivityPub.
func (f *Federation) collectionJSON(w http.ResponseWriter, r *http.Request) error {
	c, err := f.svc.GetCollection(r.Context(), r.PathValue("id"))
	if err == nil && !c.Local() {
		err = fmt.Errorf("collection %s is a copy; its origin is %s: %w", c.ID, c.Origin, node.ErrNotFound)
	}
	if err != nil {
		return err
	}
	doc, err := f.collectionDoc(r.Context(), c)
	if err != nil {
		return err
	}
	writeAS(w, http.StatusOK, contentTypeAS, doc)
	return nil
}

// createCollectionID names the Create of one incarnation of a collection.
func createCollectionID(u urls, c node.Collection) string {
	return u.activity("create", fmt.Sprintf("collection-%s-%d", c.ID, c.Created.UnixNano()))
}

// publishCollectionChange is publishChange for a collection's change.
func (f *Federation) publishCollectionChange(ctx context.Context, ch node.Change, inboxes []string) (bool, error) {
	key := announceKey(ch.Collection)
	announced, err := f.announced.Announced(ctx, key)
	if err != nil {
		return false, err
	}
	c, err := f.svc.GetCollection(ctx, ch.Collection)
	if errors.Is(err, node.ErrNotFound) {
		if !announced {
			return false, nil
		}
		tomb := map[string]any{"id": f.urls.collection(ch.Collection), "type": "Tombstone", "formerType": "Collection", "slug": ch.Collection}
		act, err := activity("Delete", f.urls.activity("delete", newID()), f.urls.actor(), tomb, []string{asPublic}, []string{f.urls.followers()})
		if err != nil {
			return false, err
		}
		if err := f.enqueue(ctx, act, inboxes); err != nil {
			return false, err
		}
		return true, f.announced.SetAnnounced(ctx, key, false)
	}
	if err != nil {
		return false, err
	}
	if !c.Local() {
		return false, nil
	}
	obj, err := f.collectionDoc(ctx, c)
	if err != nil {
		return false, err
	}
	kind, id := "Create", createCollectionID(f.urls, c)
	if announced {
		kind, id = "Update", f.urls.activity("update", newID())
	}
	act, err := activity(kind, id, f.urls.actor(), obj, []string{asPublic}, []string{f.urls.followers()})
	if err != nil {
		return false, err
	}
	if err := f.enqueue(ctx, act, inboxes); err != nil {
		return false, err
	}
	if !announced {
		return true, f.announced.SetAnnounced(ctx, key, true)
	}
	return true, nil
}

// isCollectionObject says whether an embedded object is a collection.
func isCollectionObject(o map[string]any) bool {
	t, _ := o["type"].(string)
	return t == "Collection" || t == "OrderedCollection"
}

// parseCollection reads a collection object sent by a Communs peer. Its
// items are bounded (node.MaxCollectionItems), each an absolute http(s)
// URL; a repeated item is kept once.
func parseCollection(o map[string]any) (node.Collection, []collectionItem, error) {
	str := func(k string) string { s, _ := o[k].(string); return s }
	id := str("id")
	if !isCollectionObject(o) {
		return node.Collection{}, nil, fmt.Errorf("%w: object %s is a %q, not a collection", errBadActivity, id, str("type"))
	}
	if _, err := absURL(id); err != nil {
		return node.Collection{}, nil, fmt.Errorf("%w: collection id: %v", errBadActivity, err)
	}
	c := node.Collection{ID: objectSlug(o), Origin: id, Title: str("name"), Summary: str("abstract")}
	if c.Summary == "" {
		c.Summary = plainSummary(str("summary"))
	}
	if src, ok := o["source"].(map[string]any); ok {
		c.Description, _ = src["content"].(string)
	}
	for _, k := range []string{"dateModified", "updated"} {
		if t, err := time.Parse(time.RFC3339, str(k)); err == nil {
			c.Updated = t.UTC()
			break
		}
	}
	if org, ok := o["organisation"].(map[string]any); ok {
		c.OrganisationName, _ = org["name"].(string)
		c.OrganisationURL = idOf(org["url"])
	}
	raw, _ := o[itemsKey].([]any)
	if len(raw) > node.MaxCollectionItems {
		return c, nil, fmt.Errorf("%w: collection %s lists %d items, at most %d are accepted", errBadActivity, id, len(raw), node.MaxCollectionItems)
	}
	var items []collectionItem
	seen := map[string]bool{}
	for _, v := range raw {
		var it collectionItem
		switch x := v.(type) {
		case string:
			it.ID = x
		case map[string]any:
			it.ID = idOf(x)
			it.Name, _ = x["name"].(string)
			it.Note, _ = x["note"].(string)
		}
		if _, err := absURL(it.ID); err != nil {
			return c, nil, fmt.Errorf("%w: collection %s: item: %v", errBadActivity, id, err)
		}
		if seen[it.ID] {
			continue
		}
		seen[it.ID] = true
		items = append(items, it)
	}
	return c, items, nil
}

// onCollection stores a collection sent by a hub this node follows.
func (f *Federation) onCollection(ctx context.Context, act incoming) error {
	if !f.svc.KeepsCollections() {
		return fmt.Errorf("%w: collection %s: this node keeps no collections", errUnhandled, act.ObjectID)
	}
	p, err := f.peers.GetPeer(ctx, act.Actor)
	if err != nil || p.Following != state.StateAccepted {
		return fmt.Errorf("%s %s from %s, which this hub does not follow", act.Type, act.ObjectID, act.Actor)
	}
	if err := f.saveCollection(ctx, p, act.Object); err != nil {
		return err
	}
	if act.Type == "Update" {
		return f.reannounce(ctx, act.ObjectID) // when this hub shares it
	}
	return nil
}

// saveCollection stores a peer's collection as a copy whose items are
// this node's own resources: each item is found among the copies here or
// fetched from its origin (a hub this node follows) under this node's
// licence policy, blocks and drops; an item refused or unreachable is
// listed as unavailable with its reason, never dropped.
func (f *Federation) saveCollection(ctx context.Context, p state.Peer, obj map[string]any) error {
	_, err := f.saveCollectionAs(ctx, p, obj, "", f.resolveItem)
	return err
}

// itemResolver is resolveItem's signature.
type itemResolver func(ctx, fetchCtx context.Context, objectID string) (id, title, reason string, err error)

// saveCollectionAs is saveCollection for a copy shared by the hub
// sharedBy ("" when received from its origin), its items resolved by
// resolve.
func (f *Federation) saveCollectionAs(ctx context.Context, p state.Peer, obj map[string]any, sharedBy string, resolve itemResolver) (node.Collection, error) {
	c, items, err := parseCollection(obj)
	if err != nil {
		return node.Collection{}, err
	}
	c.SharedBy = sharedBy
	if hostOf(c.Origin) != p.Host {
		return node.Collection{}, fmt.Errorf("collection %s is not on %s", c.Origin, p.Host)
	}
	hub, err := f.peerHub(ctx, p)
	if err != nil {
		return node.Collection{}, err
	}
	c.Hub = hub
	fctx, cancel := context.WithTimeout(ctx, collectionFetchBudget)
	defer cancel()
	for _, it := range items {
		local, title, reason, err := resolve(ctx, fctx, it.ID)
		if err != nil {
			return node.Collection{}, err // storage failure: retried with the activity
		}
		if reason != "" {
			if title == "" {
				title = truncateRunes(it.Name, 200) // the sender's word for it
			}
			c.Unavailable = append(c.Unavailable, node.UnavailableItem{URL: it.ID, Title: title, Note: it.Note, Reason: reason})
			continue
		}
		if dup := containsItem(c.Items, local); dup {
			continue // two object ids of one copy (a legacy id)
		}
		c.Items = append(c.Items, node.CollectionItem{Resource: local, Note: it.Note})
	}
	saved, err := f.svc.SaveRemoteCollection(ctx, c)
	if err != nil {
		return node.Collection{}, fmt.Errorf("collection %s from %s: %w", c.Origin, p.Host, err)
	}
	return saved, nil
}

func containsItem(items []node.CollectionItem, id string) bool {
	for _, it := range items {
		if it.Resource == id {
			return true
		}
	}
	return false
}

// resolveItem finds this node's resource for an item's object id: one of
// this node's own resources, a copy already here, or a copy made now by
// fetching the object from its origin. It returns the local id, or the
// title (when known) and the reason it is unavailable; err only for a
// failure of this node. Fetches run under fetchCtx (the collection's
// budget), lookups and saves under ctx.
func (f *Federation) resolveItem(ctx, fetchCtx context.Context, objectID string) (id, title, reason string, err error) {
	if hostOf(objectID) == f.host {
		local, ok := strings.CutPrefix(objectID, f.urls.object(""))
		if !ok || node.ValidateID(local) != nil {
			return "", "", reasonNotFound, nil
		}
		r, err := f.svc.Get(ctx, local)
		switch {
		case errors.Is(err, node.ErrNotFound) || err == nil && !r.Local():
			return "", "", reasonNotFound, nil
		case err != nil:
			return "", "", "", err
		}
		return r.ID, "", "", nil
	}
	slug := objectID[lastSlash(objectID)+1:]
	for _, cand := range []string{node.RemoteID(objectID, slug), node.LegacyRemoteID(objectID, slug)} {
		r, err := f.svc.Get(ctx, cand)
		if err == nil && r.Origin == objectID {
			return r.ID, "", "", nil
		}
		if err != nil && !errors.Is(err, node.ErrNotFound) {
			return "", "", "", err
		}
	}
	return f.fetchItem(ctx, fetchCtx, objectID)
}

// fetchItem copies an item this node does not have from its origin: only
// from a hub this node follows (whose mirror policy and hub name apply),
// never from a blocked domain, and only an object whose id is the one
// asked for.
func (f *Federation) fetchItem(ctx, fetchCtx context.Context, objectID string) (id, title, reason string, err error) {
	host := hostOf(objectID)
	if blocked, err := f.blocks.Blocked(ctx, hostname(host)); err != nil {
		return "", "", "", err
	} else if blocked {
		return "", "", reasonBlocked, nil
	}
	peers, err := f.peers.ListPeers(ctx)
	if err != nil {
		return "", "", "", err
	}
	var origin state.Peer
	for _, q := range peers {
		if q.Host == host && q.Following == state.StateAccepted {
			origin = q
			break
		}
	}
	if origin.ActorID == "" {
		return "", "", reasonNotFollowed, nil
	}
	if fetchCtx.Err() != nil {
		return "", "", reasonUnreachable, nil // the collection's fetch budget is spent
	}
	var obj map[string]any
	if err := f.getJSON(fetchCtx, objectID, &obj); err != nil {
		if ctx.Err() != nil {
			return "", "", "", ctx.Err() // the node stops: retried at the next start
		}
		f.log.Info("collection item not fetched", "object", objectID, "err", err)
		if msg := err.Error(); strings.HasSuffix(msg, ": 404 Not Found") || strings.HasSuffix(msg, ": 410 Gone") {
			return "", "", reasonNotFound, nil
		}
		return "", "", reasonUnreachable, nil
	}
	if idOf(obj) != objectID {
		return "", "", reasonNotFound, nil
	}
	r, files, err := parseResource(obj)
	if err != nil {
		return "", "", reasonNotFound, nil
	}
	title = truncateRunes(r.Title, 200)
	errs, err := f.saveCopies(ctx, origin, []node.RemoteItem{{Resource: r, Files: files, LegacyID: node.LegacyRemoteID(r.Origin, objectSlug(obj))}})
	if err != nil {
		return "", "", "", err
	}
	var ve *node.ValidationError
	switch e := errs[0]; {
	case e == nil:
		return r.ID, "", "", nil
	case errors.Is(e, errDropped):
		return "", title, reasonDropped, nil
	case errors.As(e, &ve) && ve.Code == "license_refused":
		return "", title, reasonLicence + " (" + truncateRunes(r.License, 40) + ")", nil
	default:
		f.log.Info("collection item refused", "object", objectID, "err", e)
		return "", title, reasonRefused, nil
	}
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}

// outboxCollections is the outbox's pages of local collections, after
// those of the resources: a follower backfilling saves the resources
// before the collections that list them.
func (f *Federation) outboxCollections(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	offset := 0
	if _, err := fmt.Sscan(q.Get("collections"), &offset); err != nil || offset < 0 {
		offset = 0
	}
	cs, total, err := f.svc.ListCollections(ctx, node.ListCollectionsQuery{Origin: "local", Offset: offset, Limit: pageSize})
	if err != nil {
		return err
	}
	items := []any{}
	for _, c := range cs {
		obj, err := f.collectionDoc(ctx, c)
		if err != nil {
			continue
		}
		act, err := activity("Create", createCollectionID(f.urls, c), f.urls.actor(), obj, []string{asPublic}, []string{f.urls.followers()})
		if err != nil {
			continue
		}
		delete(act, "@context")
		items = append(items, act)
	}
	page := map[string]any{
		"@context": ldContext(), "id": f.urls.outbox() + "?" + q.Encode(), "type": "OrderedCollectionPage",
		"partOf": f.urls.outbox(), "orderedItems": items,
	}
	if offset+len(cs) < total && len(cs) > 0 {
		page["next"] = fmt.Sprintf("%s?page=1&collections=%d", f.urls.outbox(), offset+len(cs))
	}
	writeAS(w, http.StatusOK, contentTypeAS, page)
	return nil
}

// firstCollectionsPage is the page the outbox's last resource page points
// to when the node has local collections ("" when none).
func (f *Federation) firstCollectionsPage(ctx context.Context) string {
	_, total, err := f.svc.ListCollections(ctx, node.ListCollectionsQuery{Origin: "local", Limit: 1})
	if err != nil || total == 0 {
		return ""
	}
	return f.urls.outbox() + "?page=1&collections=0"
}

// dropUnlistedCollections removes the copies of a peer's collections that
// its outbox no longer lists (after a whole backfill).
func (f *Federation) dropUnlistedCollections(ctx context.Context, p state.Peer, listed map[string]bool, started time.Time) error {
	prefix := originPrefix(p)
	var stale []string
	for offset := 0; ; offset += 100 {
		cs, total, err := f.svc.ListCollections(ctx, node.ListCollectionsQuery{Origin: "remote", Offset: offset, Limit: 100})
		if errors.Is(err, node.ErrUnavailable) {
			return nil // this node keeps no collections
		}
		if err != nil {
			return err
		}
		for _, c := range cs {
			if strings.HasPrefix(c.Origin, prefix) && !listed[c.Origin] && c.Created.Before(started) {
				stale = append(stale, c.Origin)
			}
		}
		if len(cs) == 0 || offset+len(cs) >= total {
			break
		}
	}
	for _, origin := range stale {
		if err := f.svc.DeleteRemoteCollection(ctx, origin); err != nil {
			return err
		}
		f.log.Info("backfill: collection copy removed, its origin no longer has it", "object", origin)
	}
	return nil
}
