package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Sharing a copy received from another hub with this hub's followers (an
// ActivityPub Announce sent by the federation): the JSON API, and the
// resource page's form for editors.

// ShareJSON is a share as the API shows it.
type ShareJSON struct {
	Resource string    `json:"resource"`
	Object   string    `json:"object"`
	Activity string    `json:"activity"`
	Shared   time.Time `json:"shared"`
}

func shareJSON(sh node.Share) ShareJSON {
	return ShareJSON{Resource: sh.Resource, Object: sh.Object, Activity: sh.Activity, Shared: sh.Shared}
}

// shareOps is what the share routes act on: a resource copy (share.go) or
// a collection copy (collection_share.go); the routes are the same.
type shareOps struct {
	share, unshare func(ctx context.Context, id string) (node.Share, error)
	page           func(id string) string // where the form returns
}

func (s *Server) resourceShares() shareOps {
	return shareOps{share: s.svc.ShareResource, unshare: s.svc.UnshareResource, page: paths.ResourcePath}
}

// apiShare shares a copy (POST): a second share answers the first.
func (s *Server) apiShare(k shareOps) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.editor(r)
		if err != nil {
			return err
		}
		sh, err := k.share(node.WithActor(r.Context(), u), r.PathValue("id"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, shareJSON(sh))
		return nil
	}
}

// apiUnshare takes a share back (DELETE).
func (s *Server) apiUnshare(k shareOps) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.editor(r)
		if err != nil {
			return err
		}
		if _, err := k.unshare(node.WithActor(r.Context(), u), r.PathValue("id")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// shareView is the share form of a copy's page, for editors.
type shareView struct {
	// Shared says this hub shares it already (the form takes it back).
	Shared bool
	// Done is the outcome just redirected from: "ok" or "annule".
	Done string
}

// shareState is the share form's state for res, nil when the visitor may
// not share it (not an editor, a local resource, no federation).
func (s *Server) shareState(ctx context.Context, u *node.User, res node.Resource, done string) *shareView {
	if u == nil || !node.CanEdit(*u) || res.Local() || !s.svc.CanShare() {
		return nil
	}
	_, err := s.svc.SharedResource(ctx, res)
	if err != nil && !errors.Is(err, node.ErrNotFound) {
		s.log.Warn("read a copy's share", "id", res.ID, "err", err)
	}
	if done != "ok" && done != "annule" {
		done = ""
	}
	return &shareView{Shared: err == nil, Done: done}
}

// shareSubmit takes the page's share form (annuler=1: take it back).
func (s *Server) shareSubmit(k shareOps) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, err := s.editorOrLogin(r)
		if err != nil {
			return err
		}
		if err := s.postedForm(w, r, 4<<10); err != nil {
			return err
		}
		ctx := node.WithActor(r.Context(), u)
		id, done := r.PathValue("id"), "ok"
		if r.PostFormValue("annuler") == "1" {
			done = "annule"
			_, err = k.unshare(ctx, id)
		} else {
			_, err = k.share(ctx, id)
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, k.page(id)+"?partage="+done+"#partager", http.StatusSeeOther)
		return nil
	}
}

// ShareResource shares a copy (POST /api/v1/resources/{id}/share); on the
// admin socket it acts as an admin.
func (c *Client) ShareResource(ctx context.Context, id string) (node.Share, error) {
	var out ShareJSON
	err := c.do(ctx, http.MethodPost, paths.APIResourcePath(id)+"/share", nil, "", &out)
	return node.Share{Resource: out.Resource, Object: out.Object, Activity: out.Activity, Shared: out.Shared}, err
}

// UnshareResource takes a share back (DELETE /api/v1/resources/{id}/share).
func (c *Client) UnshareResource(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, paths.APIResourcePath(id)+"/share", nil, "", nil)
}
