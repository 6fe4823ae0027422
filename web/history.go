package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/communs-numerique/communs/node"
)

// historyOnPage is how many revisions the resource page shows at once.
const historyOnPage = 10

// historyParam is the resource page's parameter for older revisions.
const historyParam = "historique"

// historyPageJSON is a page of a resource's history as the API shows it.
type historyPageJSON struct {
	Items []node.Revision `json:"items"`
	Next  string          `json:"next,omitempty"`
}

// apiHistory answers GET /api/v1/resources/{id}/history: a page of
// revisions, newest first. Account names are not for visitors (like a
// resource's created_by): a revision says which hub made it.
func (s *Server) apiHistory(w http.ResponseWriter, r *http.Request) error {
	return s.history(w, r, false)
}

// adminHistory is apiHistory for the admin socket, with the account of
// each local change.
func (s *Server) adminHistory(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	return s.history(w, r, true)
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, withAccounts bool) error {
	q := r.URL.Query()
	limit, err := pageSize(q, "limit")
	if err != nil {
		return err
	}
	cursor, err := pageCursor(q, "cursor")
	if err != nil {
		return err
	}
	revs, next, err := s.svc.History(r.Context(), r.PathValue("id"), cursor, limit)
	if err != nil {
		if errors.Is(err, node.ErrInvalid) {
			return &node.ValidationError{Field: "cursor", Code: "invalid", Rule: "not a page cursor this node returned; follow the next link of the previous page"}
		}
		return err
	}
	out := historyPageJSON{Items: make([]node.Revision, 0, len(revs)), Next: next}
	for _, rev := range revs {
		if !withAccounts {
			rev.By = ""
		}
		out.Items = append(out.Items, rev)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// historyView is the resource page's "Historique" section: one line per
// revision, in plain words.
type historyView struct {
	Items []historyLine
	// Older links to the next older revisions ("" when none).
	Older string
	// Error is the catalog key of why the revisions could not be shown.
	Error string
}

type historyLine struct {
	Version int
	// Sentences say what changed, each with its date ("Fichier guide.pdf
	// remplacé le 3 décembre 2026").
	Sentences []string
	// By names the origin hub for a copy's revision.
	By string
}

// resourceHistory reads the revisions the page shows (?historique= pages
// back). A cursor this node did not issue is the visitor's error: the
// section says so, shows the newest revisions, and the page answers 400
// (ok false).
func (s *Server) resourceHistory(r *http.Request, p *uiPage, res node.Resource) (v *historyView, ok bool) {
	v, ok = &historyView{}, true
	cursor, err := pageCursor(r.URL.Query(), historyParam)
	revs, next, herr := []node.Revision(nil), "", error(nil)
	if err == nil {
		revs, next, herr = s.svc.History(r.Context(), res.ID, cursor, historyOnPage)
	}
	if err != nil || errors.Is(herr, node.ErrInvalid) {
		v.Error, ok = "history.badcursor", false
		revs, next, herr = s.svc.History(r.Context(), res.ID, "", historyOnPage)
	}
	if herr != nil {
		s.log.Warn("resource history not shown", "id", res.ID, "err", herr)
		v.Error = "history.failed"
		return v, ok
	}
	for _, rev := range revs {
		v.Items = append(v.Items, historyLineOf(p, res, rev))
	}
	if next != "" {
		v.Older = "?" + url.Values{historyParam: {next}}.Encode() + "#historique"
	}
	return v, ok
}

// historyLineOf says a revision in plain words.
func historyLineOf(p *uiPage, res node.Resource, rev node.Revision) historyLine {
	day := p.Date(rev.At)
	l := historyLine{Version: rev.Version}
	if !res.Local() {
		l.By = rev.Hub
	}
	if rev.Created {
		key, args := "history.created", []any{day}
		if !res.Local() {
			// "Copie reçue de hub-a le …": the line names the hub already.
			key, args, l.By = "history.received", []any{rev.Hub, day}, ""
		}
		if len(rev.Files) > 0 {
			names := make([]string, 0, len(rev.Files))
			for _, f := range rev.Files {
				names = append(names, f.Name)
			}
			key, args = key+".files", append(args, strings.Join(names, ", "))
		}
		l.Sentences = append(l.Sentences, p.T(key, args...))
		return l
	}
	for _, f := range rev.Fields {
		key := "history.field." + f.Field
		if !hasKey(p.Lang, key) {
			l.Sentences = append(l.Sentences, p.T("history.field.other", f.Field, day))
			continue
		}
		l.Sentences = append(l.Sentences, p.T(key, day))
	}
	for _, f := range rev.Files {
		l.Sentences = append(l.Sentences, p.T("history.file."+f.Change, f.Name, day))
	}
	return l
}

// History reads a page of a resource's revisions, with the accounts that
// made them (admin socket).
func (c *Client) History(ctx context.Context, id, after string, limit int) ([]node.Revision, string, error) {
	q := url.Values{}
	if after != "" {
		q.Set("cursor", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out historyPageJSON
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/resources/"+url.PathEscape(id)+"/history?"+q.Encode(), nil, &out)
	return out.Items, out.Next, err
}
