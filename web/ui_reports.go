package web

import (
	"context"

	"github.com/communs-numerique/communs/node"
)

// editorReports is the "open reports" section of the editor's pages: the
// open reports on the resources the signed-in user may change, as
// node.Service.OpenReportsFor selects them (the ownership rule lives
// there). The reporter's contact never reaches these pages: the service
// clears it, and only admins read it through `communs report show`.
type editorReports struct {
	node.EditorReports
	// Failed says the reports could not be read: the page says so rather
	// than showing an empty list as if there were none.
	Failed bool
	// One says the list is about a single resource (its edit page).
	One bool
}

// openReports reads the reports for the context's actor; resourceID keeps
// one resource's. A failure is logged and shown, but does not stop the
// editor from working.
func (s *Server) openReports(ctx context.Context, u node.User, resourceID string) *editorReports {
	rs, err := s.svc.OpenReportsFor(ctx, u, resourceID)
	if err != nil {
		s.log.Warn("list open reports for the editor", "user", u.Name, "resource", resourceID, "err", err)
		return &editorReports{Failed: true, One: resourceID != ""}
	}
	return &editorReports{EditorReports: rs, One: resourceID != ""}
}
