package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/node"
)

// Report is what `communs peer list` shows.
type Report struct {
	Handle  string       `json:"handle"`
	Actor   string       `json:"actor"`
	Peers   []state.Peer `json:"peers"`
	Blocks  []string     `json:"blocks"`
	Backlog int          `json:"backlog"`
	// Drops are the copies an admin dropped (communs peer drop).
	Drops []state.Dropped `json:"drops"`
}

// Admin is what the CLI's peer commands need. *Federation implements it
// on an opened data folder; AdminClient through a running node's socket.
type Admin interface {
	Report(ctx context.Context) (Report, error)
	Follow(ctx context.Context, target string, opt FollowOptions) (state.Peer, error)
	Unfollow(ctx context.Context, target string) error
	Answer(ctx context.Context, target string, accept bool) error
	Block(ctx context.Context, domain string) (int, error)
	Unblock(ctx context.Context, domain string) error
	Drop(ctx context.Context, id string) (state.Dropped, error)
	Undrop(ctx context.Context, target string) (state.Dropped, error)
}

var _ Admin = (*Federation)(nil)

// Report lists this node's identity, peers, blocks and delivery backlog.
func (f *Federation) Report(ctx context.Context) (Report, error) {
	rep := Report{Handle: f.Handle(), Actor: f.ActorURL(), Peers: []state.Peer{}, Blocks: []string{}}
	var err error
	if rep.Peers, err = f.peers.ListPeers(ctx); err != nil {
		return rep, err
	}
	if rep.Blocks, err = f.blocks.Blocks(ctx); err != nil {
		return rep, err
	}
	if rep.Drops, err = f.drops.Drops(ctx); err != nil {
		return rep, err
	}
	rep.Backlog, err = f.deliveries.DeliveryCount(ctx)
	return rep, err
}

// Drop removes the copy with that local id and records its origin, so
// that neither the origin's updates nor a backfill bring it back (editors
// cannot delete copies: they are changed only by their origin).
func (f *Federation) Drop(ctx context.Context, id string) (state.Dropped, error) {
	r, err := f.svc.Get(ctx, strings.TrimSpace(id))
	if err != nil {
		return state.Dropped{}, err
	}
	if r.Local() {
		return state.Dropped{}, fmt.Errorf("resource %q is this hub's own; delete it with communs resource rm: %w", r.ID, node.ErrInvalid)
	}
	d := state.Dropped{Origin: r.Origin, ID: r.ID, Title: r.Title, At: f.now().UTC()}
	// The write lock waits for saves in progress; recorded first, so a
	// save that starts next finds the drop.
	f.dropMu.Lock()
	defer f.dropMu.Unlock()
	if err := f.drops.Drop(ctx, d); err != nil {
		return d, err
	}
	if err := f.svc.DeleteRemote(ctx, r.ID, r.Origin); err != nil {
		return d, err
	}
	if err := f.copyGone(ctx, r.Origin); err != nil { // this hub's share of it, if any, is taken back
		return d, err
	}
	f.log.Info("copy dropped by an admin", "id", r.ID, "origin", r.Origin)
	return d, nil
}

// Undrop forgets a drop (by the copy's former local id or its origin
// object id): the origin's next Create or Update, or a backfill
// (unfollow then follow again), stores the copy again.
func (f *Federation) Undrop(ctx context.Context, target string) (state.Dropped, error) {
	target = strings.TrimSpace(target)
	drops, err := f.drops.Drops(ctx)
	if err != nil {
		return state.Dropped{}, err
	}
	for _, d := range drops {
		if d.ID == target || d.Origin == target {
			if _, err := f.drops.Undrop(ctx, d.Origin); err != nil {
				return d, err
			}
			return d, nil
		}
	}
	return state.Dropped{}, fmt.Errorf("no dropped copy %q (communs peer list shows them): %w", target, node.ErrNotFound)
}

type adminRequest struct {
	Target        string `json:"target"`
	Mirror        string `json:"mirror,omitempty"`
	MirrorMaxSize int64  `json:"mirror_max_size,omitempty"`
	Accept        bool   `json:"accept,omitempty"`
}

// AdminHandler serves the peer commands on the admin socket. Errors are
// answered like the rest of the admin API (internal/httperr's table): a
// conflict is a 409, a store that is down a 503, a failure a 500 whose id
// the log line carries.
func (f *Federation) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/peers", f.admin(func(r *http.Request) (any, error) {
		return f.Report(r.Context())
	}))
	mux.HandleFunc("POST /admin/v1/peers/{op}", f.admin(func(r *http.Request) (any, error) {
		var in adminRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
			return nil, fmt.Errorf("bad request: %v: %w", err, node.ErrInvalid)
		}
		ctx := r.Context()
		switch r.PathValue("op") {
		case "follow":
			return f.Follow(ctx, in.Target, FollowOptions{Mirror: in.Mirror, MirrorMaxSize: in.MirrorMaxSize})
		case "unfollow":
			return struct{}{}, f.Unfollow(ctx, in.Target)
		case "answer":
			return struct{}{}, f.Answer(ctx, in.Target, in.Accept)
		case "block":
			n, err := f.Block(ctx, in.Target)
			return map[string]int{"removed": n}, err
		case "unblock":
			return struct{}{}, f.Unblock(ctx, in.Target)
		case "drop":
			return f.Drop(ctx, in.Target)
		case "undrop":
			return f.Undrop(ctx, in.Target)
		}
		return nil, fmt.Errorf("no peer operation %q: %w", r.PathValue("op"), node.ErrNotFound)
	}))
	return mux
}

// admin answers op's value in JSON, or its error through fail.
func (f *Federation) admin(op func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := op(r)
		if err != nil {
			f.fail(w, r, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(v)
	}
}

// AdminClient reaches a running node's peer commands on its admin socket.
type AdminClient struct{ http *http.Client }

var _ Admin = (*AdminClient)(nil)

// NewAdminClient returns a client for the Unix socket at path.
func NewAdminClient(socket string) *AdminClient {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &AdminClient{http: &http.Client{Transport: tr}}
}

func (c *AdminClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, _ := json.Marshal(in)
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://communs-admin"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		msg := strings.TrimSpace(e.Error.Message)
		if msg == "" {
			msg = resp.Status
		}
		if sentinel := httperr.Sentinel(resp.StatusCode); sentinel != nil {
			return fmt.Errorf("%s: %w", msg, sentinel)
		}
		return errors.New(msg)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *AdminClient) Report(ctx context.Context) (Report, error) {
	var rep Report
	return rep, c.call(ctx, http.MethodGet, "/admin/v1/peers", nil, &rep)
}

func (c *AdminClient) Follow(ctx context.Context, target string, opt FollowOptions) (state.Peer, error) {
	var p state.Peer
	return p, c.call(ctx, http.MethodPost, "/admin/v1/peers/follow", adminRequest{Target: target, Mirror: opt.Mirror, MirrorMaxSize: opt.MirrorMaxSize}, &p)
}

func (c *AdminClient) Unfollow(ctx context.Context, target string) error {
	return c.call(ctx, http.MethodPost, "/admin/v1/peers/unfollow", adminRequest{Target: target}, nil)
}

func (c *AdminClient) Answer(ctx context.Context, target string, accept bool) error {
	return c.call(ctx, http.MethodPost, "/admin/v1/peers/answer", adminRequest{Target: target, Accept: accept}, nil)
}

func (c *AdminClient) Block(ctx context.Context, domain string) (int, error) {
	var out struct {
		Removed int `json:"removed"`
	}
	return out.Removed, c.call(ctx, http.MethodPost, "/admin/v1/peers/block", adminRequest{Target: domain}, &out)
}

func (c *AdminClient) Unblock(ctx context.Context, domain string) error {
	return c.call(ctx, http.MethodPost, "/admin/v1/peers/unblock", adminRequest{Target: domain}, nil)
}

func (c *AdminClient) Drop(ctx context.Context, id string) (state.Dropped, error) {
	var d state.Dropped
	return d, c.call(ctx, http.MethodPost, "/admin/v1/peers/drop", adminRequest{Target: id}, &d)
}

func (c *AdminClient) Undrop(ctx context.Context, target string) (state.Dropped, error) {
	var d state.Dropped
	return d, c.call(ctx, http.MethodPost, "/admin/v1/peers/undrop", adminRequest{Target: target}, &d)
}
