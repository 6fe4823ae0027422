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

func (s *Server) collectionShares() shareOps {
	return shareOps{share: s.svc.ShareCollection, unshare: s.svc.UnshareCollection, page: paths.CollectionPath}
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
