package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// The editor pages are thin forms over node.Service: Publish, Update,
// PutFile, DeleteFile and Delete do every check, and the pages only turn
// their errors into messages next to the right field.

// maxFormField bounds one text field of an editor form; a description is at
// most 50,000 characters, so 256 KiB leaves room for multi-byte text.
const maxFormField = 256 << 10

// uiLanguages are the resource languages the form offers; the vocabulary
// itself accepts any ISO 639-1 code.
var uiResourceLanguages = []string{"fr", "en", "es", "de", "it", "pt", "ar", "br", "oc"}

type formValues struct {
	ID, Title, Summary, Description, Kind, Level, License, Language, Authors, Published string
	Themes, Audience                                                                    []string
	// Organisation is the owning organisation; OrgSent says the form had
	// the field (only admins get it), so an editor's post keeps it.
	Organisation string
	OrgSent      bool
}

type fieldError struct {
	Field, Message string
}

type editorForm struct {
	New       bool
	V         formValues
	Errors    []fieldError
	ByField   map[string]string
	R         node.Resource
	Kinds     []string
	Themes    []string
	Audiences []string
	Levels    []string
	Licences  []node.License
	Languages []string
	MaxFile   int64
	Accepted  string
	// ChooseOrg shows admins a choice of organisation; editors see
	// OrgName, their resource's organisation, as text.
	ChooseOrg bool
	Orgs      []node.Organisation
	OrgName   string
	// Reports are the open reports on the resource being edited.
	Reports *editorReports
}

// Has reports whether v lists x, for ticking checkboxes.
func (f formValues) Has(list []string, x string) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}

func (s *Server) newEditorForm(isNew bool) *editorForm {
	f := &editorForm{New: isNew, ByField: map[string]string{}, Kinds: node.Kinds, Themes: node.Themes,
		Audiences: node.Audiences, Levels: node.Levels, Languages: uiResourceLanguages, MaxFile: s.svc.MaxFileSize()}
	var short []string
	for _, id := range s.svc.Policy().Accepted() {
		if l, ok := node.LookupLicense(id); ok {
			f.Licences = append(f.Licences, l)
			short = append(short, l.Short)
		}
	}
	f.Accepted = strings.Join(short, ", ")
	if isNew {
		f.V = formValues{Language: "fr", License: "CC-BY-SA-4.0", Kind: node.Kinds[0]}
	}
	return f
}

func valuesOf(r node.Resource) formValues {
	return formValues{ID: r.ID, Title: r.Title, Summary: r.Summary, Description: r.Description, Kind: r.Kind,
		Level: r.Level, License: r.License, Language: r.Language, Authors: strings.Join(r.Authors, ", "),
		Published: r.Published, Themes: r.Themes, Audience: r.Audience, Organisation: r.Organisation}
}

func readFormValues(v url.Values) formValues {
	return formValues{Title: v.Get("title"), Summary: v.Get("summary"), Description: v.Get("description"),
		Kind: v.Get("kind"), Level: v.Get("level"), License: v.Get("license"), Language: v.Get("language"),
		Authors: v.Get("authors"), Published: v.Get("published"), Themes: v["themes"], Audience: v["audience"],
		Organisation: v.Get("organisation"), OrgSent: v.Has("organisation")}
}

func splitAuthors(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func (v formValues) resource() node.Resource {
	return node.Resource{Metadata: node.Metadata{Title: v.Title, Summary: v.Summary, Description: v.Description, Kind: v.Kind,
		Themes: v.Themes, Audience: v.Audience, Level: v.Level, License: v.License, Language: v.Language,
		Authors: splitAuthors(v.Authors), Published: v.Published, Organisation: v.Organisation}}
}

func (v formValues) patch() node.Patch {
	r := v.resource()
	p := node.Patch{Title: &r.Title, Summary: &r.Summary, Description: &r.Description, Kind: &r.Kind,
		Themes: &r.Themes, Audience: &r.Audience, Level: &r.Level, License: &r.License, Language: &r.Language,
		Authors: &r.Authors, Published: &r.Published}
	if v.OrgSent {
		p.Organisation = &r.Organisation
	}
	return p
}

// formFields maps the domain's field names to the form's controls.
var formFields = map[string]string{
	"id": "title", "title": "title", "summary": "summary", "description": "description", "kind": "kind",
	"themes": "themes", "audience": "audience", "level": "level", "license": "license", "language": "language",
	"authors": "authors", "published": "published", "files": "file", "file name": "file", "size": "file",
	"sha256": "file", "media_type": "file", "organisation": "organisation",
}

// explain turns a service error into a message by the field it concerns,
// in the page's language. It returns false for errors that are not the
// user's to fix (storage down, bugs): those get an error page.
func (s *Server) explain(p *uiPage, f *editorForm, err error) (int, bool) {
	var ve *node.ValidationError
	switch {
	case errors.As(err, &ve):
		field := formFields[ve.Field]
		if field == "" {
			field = "title"
		}
		msg := p.T("form.error." + field)
		if ve.Code == "license_refused" {
			msg = p.T("form.error.license_refused", f.Accepted)
		}
		f.addError(field, msg)
		return http.StatusBadRequest, true
	case errors.Is(err, node.ErrTooLarge):
		f.addError("file", p.T("form.error.too_large", humanSize(p.Lang, f.MaxFile)))
		return http.StatusRequestEntityTooLarge, true
	case errors.Is(err, node.ErrConflict):
		f.addError("title", p.T("form.error.conflict"))
		return http.StatusConflict, true
	}
	return 0, false
}

func (f *editorForm) addError(field, msg string) {
	if _, ok := f.ByField[field]; ok {
		return
	}
	f.ByField[field] = msg
	f.Errors = append(f.Errors, fieldError{Field: field, Message: msg})
}

func (s *Server) editorHome(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editorOrLogin(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.List(r.Context(), node.ListOptions{Limit: 50, Origin: "local", After: r.URL.Query().Get("apres")})
	if err != nil {
		return err
	}
	d := struct {
		Items   []node.Resource
		Next    string
		Deleted bool
		Reports *editorReports
		// Collections are the hub's own collections (ui_collections.go).
		Collections       []node.Collection
		CollectionDeleted bool
	}{items, next, r.URL.Query().Get("supprime") == "1", s.openReports(r.Context(), u, ""), s.editorCollections(r.Context()),
		r.URL.Query().Get("collection-supprimee") == "1"}
	p := s.newPage(w, r, "editor", "editor.title", d)
	p.NoRobots = true
	s.renderPage(w, r, http.StatusOK, "editor.html", p)
	return nil
}

func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, status int, f *editorForm) {
	s.fillOrganisations(r.Context(), f)
	if u, ok := node.ActorFrom(r.Context()); ok && !f.New && f.R.ID != "" {
		f.Reports = s.openReports(r.Context(), u, f.R.ID)
	}
	title := "form.title.edit"
	if f.New {
		title = "form.title.new"
	}
	p := s.newPage(w, r, "editor", title, f)
	p.NoRobots = true
	if len(f.Errors) > 0 {
		p.Title = p.T("form.title.errors") + " " + p.Title
	}
	s.renderPage(w, r, status, "form.html", p)
}

func (s *Server) editorNew(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editorOrLogin(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u))
	s.renderForm(w, r, http.StatusOK, s.newEditorForm(true))
	return nil
}

// partsReader walks a multipart form: the CSRF token first, then the text
// fields, then the file parts, which it streams one by one into the
// service without buffering them.
type partsReader struct {
	mr     *multipart.Reader
	values url.Values
	next   *multipart.Part
}

// Bounds of a multipart editor form's text, checked while reading it: a
// form is refused as soon as it passes one, before anything else is read.
// The form has about forty controls (themes and audiences are checkboxes)
// and at most 50,000 characters of description.
const (
	maxFormParts = 200
	maxFormText  = 4 * maxFormField
	maxCSRFField = 256
)

// newPartsReader reads the form's text fields. The first part must be the
// CSRF token (every form puts it first, and browsers send fields in page
// order), and checkCSRF runs on it before any other part is read: a
// cross-site or forged post costs the node one short read. Then the text
// parts are counted and their sizes summed, and the form is refused with
// node.ErrTooLarge as soon as it passes maxFormParts or maxFormText.
func newPartsReader(r *http.Request, checkCSRF func(token string) error) (*partsReader, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return nil, fmt.Errorf("editor form sent as %q, want multipart/form-data: %w", mt, errBadRequest)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, fmt.Errorf("editor form: %v: %w", err, errBadRequest)
	}
	part, err := mr.NextPart()
	if err != nil {
		return nil, fmt.Errorf("editor form: %v: %w", err, errBadRequest)
	}
	if part.FormName() != "csrf" || part.FileName() != "" {
		return nil, fmt.Errorf("editor form: the first field must be the CSRF token, got %q: %w", part.FormName(), node.ErrForbidden)
	}
	tok, err := io.ReadAll(io.LimitReader(part, maxCSRFField+1))
	if err != nil {
		return nil, fmt.Errorf("editor form: %v: %w", err, errBadRequest)
	}
	if len(tok) > maxCSRFField {
		return nil, fmt.Errorf("editor form: CSRF token too long: %w", node.ErrForbidden)
	}
	if err := checkCSRF(string(tok)); err != nil {
		return nil, err
	}
	pr := &partsReader{mr: mr, values: url.Values{"csrf": {string(tok)}}}
	parts, text := 1, len(tok)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return pr, nil
		}
		if err != nil {
			return nil, fmt.Errorf("editor form: %v: %w", err, errBadRequest)
		}
		if partFileName(part) != "" || part.FormName() == "file" {
			pr.next = part
			return pr, nil
		}
		if parts++; parts > maxFormParts {
			return nil, fmt.Errorf("editor form: more than %d fields: %w", maxFormParts, node.ErrTooLarge)
		}
		b, err := io.ReadAll(io.LimitReader(part, min(maxFormField, int64(maxFormText-text))+1))
		if err != nil {
			return nil, fmt.Errorf("editor form field %q: %v: %w", part.FormName(), err, errBadRequest)
		}
		if len(b) > maxFormField {
			return nil, fmt.Errorf("editor form field %q longer than %d bytes: %w", part.FormName(), maxFormField, node.ErrTooLarge)
		}
		if text += len(b); text > maxFormText {
			return nil, fmt.Errorf("editor form: text fields longer than %d bytes in all: %w", maxFormText, node.ErrTooLarge)
		}
		pr.values.Add(part.FormName(), string(b))
	}
}

// uploads yields each chosen file; an empty file input (no file picked)
// sends a part with no name, which is skipped.
func (pr *partsReader) uploads(yield func(node.Upload) error) error {
	for part := pr.next; part != nil; {
		// The name as sent, not its base name: the service refuses a name
		// with a path in it, as every other route does.
		if name := partFileName(part); name != "" {
			if err := yield(node.Upload{Name: name, MediaType: part.Header.Get("Content-Type"), Body: part, Size: -1}); err != nil {
				return err
			}
		}
		next, err := pr.mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("upload interrupted: %v: %w", err, errBadRequest)
		}
		part = next
	}
	return nil
}

// multipartForm opens a multipart editor form and checks its CSRF token.
func (s *Server) multipartForm(w http.ResponseWriter, r *http.Request) (*partsReader, error) {
	body := s.uploadBody(w, r)
	pr, err := newPartsReader(r, func(token string) error { return s.checkCSRF(r, token) })
	if err != nil {
		return nil, err
	}
	// The text fields were read under the server's total deadline; the
	// files that follow get the idle deadline of uploads.
	body.stream()
	return pr, nil
}

// postedForm parses a bounded urlencoded form and checks its CSRF token.
func (s *Server) postedForm(w http.ResponseWriter, r *http.Request, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	err := r.ParseForm()
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return fmt.Errorf("form larger than %d bytes: %w", limit, node.ErrTooLarge)
	} else if err != nil {
		return fmt.Errorf("form: %v: %w", err, errBadRequest)
	}
	return s.checkCSRF(r, r.PostFormValue("csrf"))
}

// formFailed shows the form again with the error by its field; it returns
// the error when the failure is not the editor's to fix (an error page).
func (s *Server) formFailed(w http.ResponseWriter, r *http.Request, f *editorForm, err error) error {
	p := s.newPage(w, r, "editor", "", nil)
	if status, ok := s.explain(p, f, err); ok {
		s.renderForm(w, r, status, f)
		return nil
	}
	return err
}

func (s *Server) editorCreate(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editorOrLogin(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u)) // the service applies the ownership rules for u
	pr, err := s.multipartForm(w, r)
	if err != nil {
		return err
	}
	f := s.newEditorForm(true)
	f.V = readFormValues(pr.values)
	res, err := s.svc.Publish(r.Context(), f.V.resource(), pr.uploads, false)
	if err != nil {
		return s.formFailed(w, r, f, err)
	}
	s.log.Info("resource published from the editor", "id", res.ID, "files", len(res.Files))
	http.Redirect(w, r, paths.ResourcePath(res.ID), http.StatusSeeOther)
	return nil
}

// editable loads a local resource the editor may change for its edit
// pages, and returns the request acting for the editor: the service
// checks the ownership rules again in the write itself.
func (s *Server) editable(r *http.Request) (node.Resource, *http.Request, error) {
	u, err := s.editorOrLogin(r)
	if err != nil {
		return node.Resource{}, r, err
	}
	r = r.WithContext(node.WithActor(r.Context(), u))
	res, err := s.svc.Get(r.Context(), r.PathValue("id"))
	if err == nil && !res.Local() {
		err = fmt.Errorf("resource %q comes from another hub and is edited there: %w", res.ID, node.ErrForbidden)
	}
	if err == nil {
		err = s.svc.CheckOwner(r.Context(), res)
	}
	return res, r, err
}

// editablePost is editable for a urlencoded form, CSRF token checked.
func (s *Server) editablePost(w http.ResponseWriter, r *http.Request, limit int64) (node.Resource, *http.Request, error) {
	res, r, err := s.editable(r)
	if err != nil {
		return res, r, err
	}
	return res, r, s.postedForm(w, r, limit)
}

func (s *Server) editForm(res node.Resource) *editorForm {
	f := s.newEditorForm(false)
	f.V, f.R = valuesOf(res), res
	return f
}

func (s *Server) editorEdit(w http.ResponseWriter, r *http.Request) error {
	res, r, err := s.editable(r)
	if err != nil {
		return err
	}
	s.renderForm(w, r, http.StatusOK, s.editForm(res))
	return nil
}

func (s *Server) editorUpdate(w http.ResponseWriter, r *http.Request) error {
	res, r, err := s.editablePost(w, r, 4*maxFormField)
	if err != nil {
		return err
	}
	f := s.editForm(res)
	f.V = readFormValues(r.PostForm)
	f.V.ID = res.ID
	if _, err := s.svc.Update(r.Context(), res.ID, f.V.patch()); err != nil {
		return s.formFailed(w, r, f, err)
	}
	http.Redirect(w, r, paths.ResourcePath(res.ID), http.StatusSeeOther)
	return nil
}

func (s *Server) editorAddFiles(w http.ResponseWriter, r *http.Request) error {
	res, r, err := s.editable(r)
	if err != nil {
		return err
	}
	pr, err := s.multipartForm(w, r)
	if err != nil {
		return err
	}
	added := 0
	err = pr.uploads(func(u node.Upload) error {
		_, err := s.svc.PutFile(r.Context(), res.ID, u)
		added++
		return err
	})
	if err == nil && added == 0 {
		err = &node.ValidationError{Field: "files", Rule: "no file chosen", Code: "invalid"}
	}
	if err != nil {
		if cur, gerr := s.svc.Get(r.Context(), res.ID); gerr == nil {
			res = cur
		}
		return s.formFailed(w, r, s.editForm(res), err)
	}
	http.Redirect(w, r, "/editeur/r/"+res.ID+"#fichiers", http.StatusSeeOther)
	return nil
}

func (s *Server) editorDeleteFile(w http.ResponseWriter, r *http.Request) error {
	res, r, err := s.editablePost(w, r, 64<<10)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteFile(r.Context(), res.ID, r.PostFormValue("name")); err != nil {
		return err
	}
	http.Redirect(w, r, "/editeur/r/"+res.ID+"#fichiers", http.StatusSeeOther)
	return nil
}

func (s *Server) editorDeleteConfirm(w http.ResponseWriter, r *http.Request) error {
	res, r, err := s.editable(r)
	if err != nil {
		return err
	}
	p := s.newPage(w, r, "editor", "delete.title", res)
	p.NoRobots = true
	s.renderPage(w, r, http.StatusOK, "delete.html", p)
	return nil
}

func (s *Server) editorDelete(w http.ResponseWriter, r *http.Request) error {
	res, r, err := s.editablePost(w, r, 64<<10)
	if err != nil {
		return err
	}
	if err := s.svc.Delete(r.Context(), res.ID); err != nil {
		return err
	}
	s.log.Info("resource deleted from the editor", "id", res.ID)
	http.Redirect(w, r, "/editeur?supprime=1", http.StatusSeeOther)
	return nil
}
