package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// maxInboxBody bounds an incoming activity.
const maxInboxBody = 1 << 20

// pageSize is the number of items per outbox or collection page.
const pageSize = 50

// Handler serves the federation routes and passes the rest to next: a
// request for /r/{id} that asks for ActivityPub JSON gets the object,
// anything else the HTML page.
func (f *Federation) Handler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/webfinger", f.handle(f.webfinger))
	mux.HandleFunc("GET /.well-known/nodeinfo", f.nodeinfoLinks)
	mux.HandleFunc("GET "+paths.NodeInfo, f.nodeinfo)
	mux.HandleFunc("GET "+paths.Actor, f.handle(f.actor))
	mux.HandleFunc("POST "+paths.Inbox, f.handle(f.inbox))
	mux.HandleFunc("POST "+paths.SharedInbox, f.handle(f.inbox))
	mux.HandleFunc("GET "+paths.Outbox, f.handle(f.outbox))
	mux.HandleFunc("GET "+paths.Followers, f.handle(f.collection(func(p state.Peer) bool { return p.Follower == state.StateAccepted }, f.urls.followers())))
	mux.HandleFunc("GET "+paths.Following, f.handle(f.collection(func(p state.Peer) bool { return p.Following == state.StateAccepted }, f.urls.following())))
	mux.HandleFunc("GET "+paths.Context, func(w http.ResponseWriter, r *http.Request) {
		writeAS(w, http.StatusOK, "application/ld+json", ContextDocument())
	})
	mux.HandleFunc("GET "+paths.Resource, func(w http.ResponseWriter, r *http.Request) {
		if !wantsAS(r) || strings.HasSuffix(r.PathValue("id"), paths.ZipSuffix) {
			next.ServeHTTP(w, r)
			return
		}
		f.handle(f.object)(w, r)
	})
	mux.HandleFunc("GET "+paths.Collection, func(w http.ResponseWriter, r *http.Request) {
		if !wantsAS(r) || strings.Contains(r.PathValue("id"), ".") {
			next.ServeHTTP(w, r)
			return
		}
		f.handle(f.collectionJSON)(w, r)
	})
	mux.Handle("/", next)
	return mux
}

// wantsAS reports whether the client asks for ActivityPub JSON rather
// than the HTML page.
func wantsAS(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == contentTypeAS || (mt == "application/ld+json" && strings.Contains(params["profile"], "activitystreams")) {
			return true
		}
	}
	return false
}

func writeAS(w http.ResponseWriter, status int, ctype string, v any) {
	writeASHeader(w, status, ctype)
	encodeAS(w, v)
}

func writeASHeader(w http.ResponseWriter, status int, ctype string) {
	w.Header().Set("Content-Type", ctype+"; charset=utf-8")
	w.Header().Set("Vary", "Accept")
	w.WriteHeader(status)
}

func encodeAS(w http.ResponseWriter, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// handle adapts a federation handler to net/http: its error is answered
// by fail.
func (f *Federation) handle(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			f.fail(w, r, err)
		}
	}
}

// fail answers a refusal or a failure, classified by the node's one table
// (internal/httperr). The remote side reads what it did wrong in words (a
// 4xx); the detail of a failure (resolver, addresses, storage errors) goes
// to the log only, under the id the answer carries: a peer must not learn
// how this node's network or disks are laid out.
func (f *Federation) fail(w http.ResponseWriter, r *http.Request, err error) {
	a, ok := httperr.Resolve(f.log, r, err)
	if !ok {
		return
	}
	if a.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "60")
	}
	writeAS(w, a.Status, "application/json", a.JSON())
}

// hide wraps err so that remote answers say only the formatted words.
func hide(err error, format string, args ...any) error {
	return httperr.Hide(err, fmt.Sprintf(format, args...))
}

func (f *Federation) webfinger(w http.ResponseWriter, r *http.Request) error {
	res := r.URL.Query().Get("resource")
	want := []string{"acct:" + f.Handle(), f.urls.actor()}
	if !contains(want, strings.ToLower(res)) && res != f.urls.actor() {
		return httperr.Status(http.StatusNotFound, fmt.Errorf("no account %q here; this hub is acct:%s", res, f.Handle()))
	}
	writeAS(w, http.StatusOK, "application/jrd+json", map[string]any{
		"subject": "acct:" + f.Handle(),
		"aliases": []string{f.urls.actor()},
		"links": []map[string]string{
			{"rel": "self", "type": contentTypeAS, "href": f.urls.actor()},
			{"rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": f.urls.base + "/"},
		},
	})
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func (f *Federation) nodeinfoLinks(w http.ResponseWriter, r *http.Request) {
	writeAS(w, http.StatusOK, "application/json", map[string]any{"links": []map[string]string{
		{"rel": "http://nodeinfo.diaspora.software/ns/schema/2.1", "href": f.urls.base + paths.NodeInfo},
	}})
}

func (f *Federation) nodeinfo(w http.ResponseWriter, r *http.Request) {
	local, _ := f.svc.CountLocal(r.Context())
	writeAS(w, http.StatusOK, `application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"`, map[string]any{
		"version":           "2.1",
		"software":          map[string]any{"name": "communs", "version": f.version, "repository": "https://github.com/communs-numerique/communs"},
		"protocols":         []string{"activitypub"},
		"services":          map[string]any{"inbound": []string{}, "outbound": []string{"atom1.0"}},
		"openRegistrations": false,
		"usage":             map[string]any{"users": map[string]int{"total": 1}, "localPosts": local},
		"metadata":          map[string]any{"nodeName": f.name, "nodeDescription": f.summary, "actor": f.urls.actor(), "handle": f.Handle()},
	})
}

func (f *Federation) actorJSON() (map[string]any, error) {
	return actorDoc(f.urls, f.username, f.name, f.summary, f.publicPEM, f.policy == PolicyApprove, f.profile)
}

func (f *Federation) actor(w http.ResponseWriter, r *http.Request) error {
	if !wantsAS(r) {
		http.Redirect(w, r, f.urls.base+"/", http.StatusSeeOther)
		return nil
	}
	doc, err := f.actorJSON()
	if err != nil {
		return err
	}
	writeAS(w, http.StatusOK, contentTypeAS, doc)
	return nil
}

func (f *Federation) object(w http.ResponseWriter, r *http.Request) error {
	res, err := f.svc.Get(r.Context(), r.PathValue("id"))
	if err == nil && !res.Local() {
		err = fmt.Errorf("resource %s is a copy; its origin is %s: %w", res.ID, res.Origin, node.ErrNotFound)
	}
	if err != nil {
		return err
	}
	doc, err := resourceObject(f.urls, res)
	if err != nil {
		return err
	}
	writeAS(w, http.StatusOK, contentTypeAS, doc)
	return nil
}

// outbox pages the Create activities of the current local resources,
// newest first: what a new follower backfills from.
func (f *Federation) outbox(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	if q.Has("collections") {
		return f.outboxCollections(w, r)
	}
	if !q.Has("page") {
		total, _ := f.svc.CountLocal(ctx)
		writeAS(w, http.StatusOK, contentTypeAS, map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": f.urls.outbox(), "type": "OrderedCollection",
			"totalItems": total, "first": f.urls.outbox() + "?page=1",
		})
		return nil
	}
	rs, next, err := f.svc.List(ctx, node.ListOptions{After: q.Get("after"), Limit: pageSize, Origin: "local"})
	if err != nil {
		return err
	}
	nextPage := ""
	if next != "" {
		nextPage = f.urls.outbox() + "?page=1&after=" + next
		// Sent before the items are rendered, so that a follower reading
		// the whole outbox asks for the next page while this one is
		// rendered (outboxahead.go).
		w.Header().Set("Link", "<"+nextPage+`>; rel="next"`)
		writeASHeader(w, http.StatusOK, contentTypeAS)
		_ = http.NewResponseController(w).Flush()
	}
	items := []any{}
	for _, res := range rs {
		obj, err := resourceObject(f.urls, res)
		if err != nil {
			continue
		}
		act, err := activity("Create", createID(f.urls, res), f.urls.actor(), obj, []string{asPublic}, []string{f.urls.followers()})
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
	if nextPage != "" {
		page["next"] = nextPage
		encodeAS(w, page) // headers already sent
		return nil
	}
	if cp := f.firstCollectionsPage(ctx); cp != "" {
		page["next"] = cp // then the collections (collections.go)
	}
	writeAS(w, http.StatusOK, contentTypeAS, page)
	return nil
}

func (f *Federation) collection(keep func(state.Peer) bool, id string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		peers, err := f.peers.ListPeers(r.Context())
		if err != nil {
			return err
		}
		items := []string{}
		for _, p := range peers {
			if keep(p) {
				items = append(items, p.ActorID)
			}
		}
		writeAS(w, http.StatusOK, contentTypeAS, map[string]any{
			"@context": "https://www.w3.org/ns/activitystreams", "id": id,
			"type": "OrderedCollection", "totalItems": len(items), "orderedItems": items,
		})
		return nil
	}
}

// inbox is the security pipeline of every incoming activity: size, type,
// signature (fresh, covering the body's digest), key owner = actor, ids on
// the actor's host, sender not blocked, activity not seen before. Only then
// is it persisted and answered 202; a worker applies it.
func (f *Federation) inbox(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != contentTypeAS && mt != "application/ld+json" {
		return fmt.Errorf("send activities as %s (got %q): %w", contentTypeAS, r.Header.Get("Content-Type"), httperr.ErrUnsupportedType)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInboxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if !errors.As(err, &tooLarge) {
			// A body cut short or too slow: the sender's connection, not
			// its size.
			return &httperr.Error{Status: http.StatusBadRequest, Public: "the activity could not be read in full; send it again",
				Err: fmt.Errorf("read activity: %w", err)}
		}
		return httperr.Status(http.StatusRequestEntityTooLarge, fmt.Errorf("activity larger than %d bytes", maxInboxBody))
	}
	act, err := parseActivity(ctx, body)
	if err != nil {
		return httperr.Status(http.StatusBadRequest, err)
	}
	actorHost := hostOf(act.Actor)
	blocked, err := f.blocks.Blocked(ctx, hostname(actorHost))
	if err != nil {
		return fmt.Errorf("check whether %s is blocked: %w", actorHost, err)
	}
	if blocked {
		return httperr.Status(http.StatusForbidden, fmt.Errorf("%s is blocked by this hub", actorHost))
	}
	if err := f.checkSignature(ctx, r, body, act.Actor); err != nil {
		if errors.Is(err, errSignature) {
			return httperr.Status(http.StatusUnauthorized, err)
		}
		return err // the node failed (a key it could not record): a 5xx
	}
	if hostOf(act.ID) != actorHost {
		return httperr.Status(http.StatusBadRequest, fmt.Errorf("activity id %s is not on the actor's host %s", act.ID, actorHost))
	}
	switch act.Type {
	case "Create", "Update", "Delete":
		if hostOf(act.ObjectID) != actorHost {
			return httperr.Status(http.StatusBadRequest, fmt.Errorf("object %s is not on the actor's host %s: a hub only speaks for its own resources", act.ObjectID, actorHost))
		}
		if err := f.checkAdaptationNotice(ctx, act); err != nil {
			return err
		}
	case "Flag":
		if err := f.checkFlag(ctx, act); err != nil {
			return err
		}
	case "Announce":
		if err := f.checkAnnounce(ctx, act); err != nil {
			return err
		}
	}
	fresh, err := f.inboxQueue.EnqueueInbox(ctx, state.InboxItem{ID: act.ID, Actor: act.Actor, Body: body, Received: f.now().UTC()})
	if err != nil {
		// The sender retries a 503 later; what failed stays in the log.
		return httperr.Status(http.StatusServiceUnavailable, fmt.Errorf("record activity %s: %w", act.ID, err))
	}
	if !fresh {
		return httperr.Status(http.StatusConflict, fmt.Errorf("activity %s was already received", act.ID))
	}
	wake(f.wakeInbox)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// hostname drops a port: blocks are by domain.
func hostname(hostport string) string {
	if i := strings.LastIndexByte(hostport, ':'); i > 0 && !strings.Contains(hostport[i:], "]") {
		if _, err := strconv.Atoi(hostport[i+1:]); err == nil {
			return hostport[:i]
		}
	}
	return hostport
}

// checkSignature verifies the request against the actor's key, fetching
// the key when unknown and once more when the cached one fails (the actor
// may have rotated it).
func (f *Federation) checkSignature(ctx context.Context, r *http.Request, body []byte, actor string) error {
	keyID, v, err := signedKeyID(r, body, f.now())
	if err != nil {
		return err
	}
	k, err := f.keys.GetKey(ctx, keyID)
	cached := err == nil
	if !cached {
		if k, err = f.fetchKey(ctx, keyID); err != nil {
			return err
		}
	}
	if k.Owner != actor {
		return fmt.Errorf("%w: key %s belongs to %s, not to the activity's actor %s", errSignature, keyID, k.Owner, actor)
	}
	if err := verify(v, k.PEM); err != nil {
		if !cached {
			return err
		}
		if k, err = f.fetchKey(ctx, keyID); err != nil {
			return err
		}
		// The verifier consumed nothing: verify again with the new key.
		if k.Owner != actor {
			return fmt.Errorf("%w: key %s belongs to %s, not to %s", errSignature, keyID, k.Owner, actor)
		}
		return verify(v, k.PEM)
	}
	return nil
}

// fetchKey reads a remote actor's public key by its id (the actor document
// or the key document) and caches it.
func (f *Federation) fetchKey(ctx context.Context, keyID string) (state.RemoteKey, error) {
	docURL, _, _ := strings.Cut(keyID, "#")
	var doc struct {
		ID        string `json:"id"`
		Owner     string `json:"owner"`
		PEM       string `json:"publicKeyPem"`
		PublicKey struct {
			ID    string `json:"id"`
			Owner string `json:"owner"`
			PEM   string `json:"publicKeyPem"`
		} `json:"publicKey"`
	}
	if err := f.getJSON(ctx, docURL, &doc); err != nil {
		return state.RemoteKey{}, hide(fmt.Errorf("%w: fetch key %s: %w", errSignature, keyID, err),
			"%s: could not fetch the signing key %s", errSignature, keyID)
	}
	k := state.RemoteKey{KeyID: keyID, Fetched: f.now().UTC()}
	switch {
	case doc.PublicKey.PEM != "" && doc.PublicKey.ID == keyID:
		k.Owner, k.PEM = doc.PublicKey.Owner, doc.PublicKey.PEM
		if k.Owner == "" {
			k.Owner = doc.ID
		}
	case doc.PEM != "" && doc.ID == keyID:
		k.Owner, k.PEM = doc.Owner, doc.PEM
	default:
		return k, fmt.Errorf("%w: %s does not publish key %s", errSignature, docURL, keyID)
	}
	if hostOf(k.Owner) != hostOf(keyID) {
		return k, fmt.Errorf("%w: key %s claims an owner on another host (%s)", errSignature, keyID, k.Owner)
	}
	if doc.ID != k.Owner {
		// A key document apart from the actor (GoToSocial serves one): the
		// owner's own document must name this very key, or anything served
		// under the host (a file an editor uploaded) could claim to be it.
		var owner struct {
			ID        string `json:"id"`
			PublicKey struct {
				ID  string `json:"id"`
				PEM string `json:"publicKeyPem"`
			} `json:"publicKey"`
		}
		if err := f.getJSON(ctx, k.Owner, &owner); err != nil {
			return k, hide(fmt.Errorf("%w: fetch the owner %s of key %s: %w", errSignature, k.Owner, keyID, err),
				"%s: could not fetch the owner %s of the signing key %s", errSignature, k.Owner, keyID)
		}
		if owner.ID != k.Owner || owner.PublicKey.ID != keyID || strings.TrimSpace(owner.PublicKey.PEM) != strings.TrimSpace(k.PEM) {
			return k, fmt.Errorf("%w: %s does not list key %s as its own", errSignature, k.Owner, keyID)
		}
	}
	if err := f.keys.PutKey(ctx, k); err != nil {
		return k, fmt.Errorf("record the signing key %s: %w", keyID, err)
	}
	return k, nil
}
