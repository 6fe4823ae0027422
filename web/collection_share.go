package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Sharing a collection copy received from another hub with this hub's
// followers: the JSON API, and the collection page's form for editors
// (like share.go for resources). The share's "resource" field holds the
// collection's id.

// apiShareCollection shares a collection copy (POST): a second share
// answers the first.
func (s *Server) apiShareCollection(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	sh, err := s.svc.ShareCollection(node.WithActor(r.Context(), u), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, shareJSON(sh))
	return nil
}

// apiUnshareCollection takes a collection share back (DELETE).
func (s *Server) apiUnshareCollection(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	if _, err := s.svc.UnshareCollection(node.WithActor(r.Context(), u), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// collectionShareState is the share form's state for c, nil when the
// visitor may not share it (not an editor, a local collection, no
// federation).
func (s *Server) collectionShareState(ctx context.Context, u *node.User, c node.Collection, done string) *shareView {
	if u == nil || !node.CanEdit(*u) || c.Local() || !s.svc.CanShareCollections() {
		return nil
	}
	_, err := s.svc.SharedCollection(ctx, c)
	if err != nil && !errors.Is(err, node.ErrNotFound) {
		s.log.Warn("read a collection copy's share", "id", c.ID, "err", err)
	}
	if done != "ok" && done != "annule" {
		done = ""
	}
	return &shareView{Shared: err == nil, Done: done}
}

// collectionShareSubmit takes the collection page's share form
// (annuler=1: take it back).
func (s *Server) collectionShareSubmit(w http.ResponseWriter, r *http.Request) error {
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
		_, err = s.svc.UnshareCollection(ctx, id)
	} else {
		_, err = s.svc.ShareCollection(ctx, id)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, paths.CollectionPath(id)+"?partage="+done+"#partager", http.StatusSeeOther)
	return nil
}

// ShareCollection shares a collection copy (POST
// /api/v1/collections/{id}/share); on the admin socket it acts as an
// admin.
func (c *Client) ShareCollection(ctx context.Context, id string) (node.Share, error) {
	var out ShareJSON
	err := c.do(ctx, http.MethodPost, paths.APICollectionSharePath(id), nil, "", &out)
	return node.Share{Resource: out.Resource, Object: out.Object, Activity: out.Activity, Shared: out.Shared}, err
}

// UnshareCollection takes a collection share back (DELETE
// /api/v1/collections/{id}/share).
func (c *Client) UnshareCollection(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, paths.APICollectionSharePath(id), nil, "", nil)
}
