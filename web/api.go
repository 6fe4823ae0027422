package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// maxMetadataBody bounds JSON bodies: metadata is small, files go elsewhere.
const maxMetadataBody = 1 << 20

// ResourceInput is the metadata a client sends to publish a resource.
type ResourceInput struct {
	ID string `json:"id,omitempty"`
	node.Metadata
}

// Resource converts the input to a domain resource.
func (in ResourceInput) Resource() node.Resource {
	return node.Resource{ID: in.ID, Metadata: in.Metadata}
}

// FileJSON is a file as the API shows it.
type FileJSON struct {
	node.File
	URL string `json:"url"`
}

// ResourceJSON is a resource as the API shows it, with its URLs.
type ResourceJSON struct {
	node.Resource
	URL    string     `json:"url"`
	ZipURL string     `json:"zip_url"`
	Local  bool       `json:"local"`
	Files  []FileJSON `json:"files"`
	// Adaptations is filled by GET of one resource (adapt.go).
	Adaptations []AdaptationJSON `json:"adaptations,omitempty"`
}

func (s *Server) resourceJSON(r node.Resource) ResourceJSON {
	r.CreatedBy = "" // an account name is not for visitors
	if r.Local() && r.Organisation != "" {
		r.OrganisationURL = paths.Base(s.publicURL).Organisation(r.Organisation)
		if o, err := s.svc.Organisation(context.Background(), r.Organisation); err == nil {
			r.OrganisationName = o.Name
		}
	}
	out := ResourceJSON{Resource: r, URL: s.resourceURL(r.ID), ZipURL: paths.Base(s.publicURL).Zip(r.ID), Local: r.Local(), Files: []FileJSON{}}
	for _, f := range r.Files {
		u := s.fileURL(r.ID, f.Name)
		if f.SHA256 == "" && f.RemoteURL != "" {
			u = f.RemoteURL
		}
		out.Files = append(out.Files, FileJSON{File: f, URL: u})
	}
	if out.Themes == nil {
		out.Themes = []string{}
	}
	if out.Audience == nil {
		out.Audience = []string{}
	}
	if out.Authors == nil {
		out.Authors = []string{}
	}
	return out
}

// decodeJSON reads a bounded JSON body and refuses unknown fields, so a
// typo in a field name is reported instead of silently ignored.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return fmt.Errorf("send JSON with Content-Type: application/json (got %q): %w", r.Header.Get("Content-Type"), errUnsupportedType)
	}
	data, err := readBounded(http.MaxBytesReader(w, r.Body, maxMetadataBody), maxMetadataBody, "JSON body")
	if err != nil {
		return err
	}
	return decodeJSONBytes(data, v, "JSON body")
}

// decodeJSONBytes decodes one JSON value, refusing invalid UTF-8 (which the
// decoder would silently replace with U+FFFD) and unknown fields.
func decodeJSONBytes(data []byte, v any, what string) error {
	if err := validJSONText(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid %s: %v: %w", what, err, errBadRequest)
	}
	if dec.More() {
		return fmt.Errorf("invalid %s: more than one value: %w", what, errBadRequest)
	}
	return nil
}

func (s *Server) apiList(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, err := pageSize(q, "limit")
	if err != nil {
		return err
	}
	cursor, err := pageCursor(q, "cursor")
	if err != nil {
		return err
	}
	origin := q.Get("origin")
	if origin != "" && origin != "local" && origin != "remote" {
		return &node.ValidationError{Field: "origin", Rule: "must be local or remote", Code: "invalid"}
	}
	items, next, err := s.svc.List(r.Context(), node.ListOptions{After: cursor, Limit: limit, Origin: origin})
	if err != nil {
		return err
	}
	total, err := s.svc.Count(r.Context())
	if err != nil {
		return err
	}
	out := struct {
		Items []ResourceJSON `json:"items"`
		Next  string         `json:"next,omitempty"`
		Total int            `json:"total"`
	}{Items: []ResourceJSON{}, Next: next, Total: total}
	for _, it := range items {
		out.Items = append(out.Items, s.resourceJSON(it))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) apiGet(w http.ResponseWriter, r *http.Request) error {
	res, err := s.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out := s.resourceJSON(res)
	out.Adaptations = s.adaptationsJSON(r.Context(), res.ID)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiCreate publishes a resource from JSON metadata, or from a
// multipart/form-data body whose first part "resource" holds the metadata
// and whose following "file" parts hold the files: the resource then appears
// with all its files at once. ?replace=true replaces an existing resource.
func (s *Server) apiCreate(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u)) // the service applies the ownership rules for u
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		s.uploadBody(w, r).stream() // files: an idle deadline, not a total one
	}
	replace := r.URL.Query().Get("replace") == "true"
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var res node.Resource
	switch mt {
	case "application/json":
		var in ResourceInput
		if err := decodeJSON(w, r, &in); err != nil {
			return err
		}
		res, err = s.svc.Publish(r.Context(), in.Resource(), nil, replace)
	case "multipart/form-data":
		res, err = s.publishMultipart(r, params["boundary"], replace)
	default:
		err = fmt.Errorf("send application/json metadata, or multipart/form-data with a resource part then file parts (got %q): %w", r.Header.Get("Content-Type"), errUnsupportedType)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.resourceURL(res.ID))
	writeJSON(w, http.StatusCreated, s.resourceJSON(res))
	return nil
}

func (s *Server) publishMultipart(r *http.Request, boundary string, replace bool) (node.Resource, error) {
	if boundary == "" {
		return node.Resource{}, fmt.Errorf("multipart body without boundary: %w", errBadRequest)
	}
	mr := multipart.NewReader(r.Body, boundary)
	part, err := mr.NextPart()
	if err != nil {
		return node.Resource{}, fmt.Errorf("read multipart body: %v: %w", err, errBadRequest)
	}
	if part.FormName() != "resource" {
		return node.Resource{}, fmt.Errorf("the first part must be named \"resource\" and hold the JSON metadata (got %q): %w", part.FormName(), errBadRequest)
	}
	var in ResourceInput
	data, err := readBounded(part, maxMetadataBody, "resource JSON part")
	if err != nil {
		return node.Resource{}, err
	}
	if err := decodeJSONBytes(data, &in, "resource JSON"); err != nil {
		return node.Resource{}, err
	}
	uploads := func(yield func(node.Upload) error) error {
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read multipart body: %v: %w", err, errBadRequest)
			}
			name := partFileName(p)
			if p.FormName() != "file" || name == "" {
				return fmt.Errorf("parts after \"resource\" must be named \"file\" and carry a filename (got %q): %w", p.FormName(), errBadRequest)
			}
			size := int64(-1)
			if v := p.Header.Get("Content-Length"); v != "" {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					size = n
				}
			}
			digest, err := sha256Header(p.Header.Get("X-Sha256"))
			if err != nil {
				return err
			}
			u := node.Upload{Name: name, MediaType: p.Header.Get("Content-Type"), Body: clientBody{p}, Size: size, SHA256: digest}
			if err := yield(u); err != nil {
				return err
			}
		}
	}
	return s.svc.Publish(r.Context(), in.Resource(), uploads, replace)
}

// sha256Header reads an optional X-Sha256 header: 64 hexadecimal digits.
func sha256Header(v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return "", nil
	}
	if len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
		return "", &node.ValidationError{Field: "X-Sha256", Code: "invalid",
			Rule: "must be the file's SHA-256 digest written as 64 hexadecimal digits"}
	}
	return v, nil
}

func (s *Server) apiPatch(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u)) // the service applies the ownership rules for u
	var p node.Patch
	if err := decodeJSON(w, r, &p); err != nil {
		return err
	}
	res, err := s.svc.Update(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.resourceJSON(res))
	return nil
}

func (s *Server) apiDelete(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u)) // the service applies the ownership rules for u
	if err := s.svc.Delete(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiPutFile streams the request body into storage: nothing is buffered
// beyond the copy buffer, so files of several GB work.
func (s *Server) apiPutFile(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u)) // the service applies the ownership rules for u
	if r.ContentLength > s.svc.MaxFileSize() {
		// Refuse before reading: the client learns at once, nothing is stored.
		return fmt.Errorf("file is %s, larger than this node's limit of %s (--max-file-size): %w",
			node.HumanSize(r.ContentLength), node.HumanSize(s.svc.MaxFileSize()), node.ErrTooLarge)
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
		return fmt.Errorf("send the file's bytes as the request body, not a multipart form: %w", errUnsupportedType)
	}
	digest, err := sha256Header(r.Header.Get("X-Sha256"))
	if err != nil {
		return err
	}
	s.uploadBody(w, r).stream() // an idle deadline, not a total one
	up := node.Upload{Name: r.PathValue("name"), MediaType: r.Header.Get("Content-Type"), Body: clientBody{r.Body},
		Size: r.ContentLength, SHA256: digest}
	f, err := s.svc.PutFile(r.Context(), r.PathValue("id"), up)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, FileJSON{File: f, URL: s.fileURL(r.PathValue("id"), f.Name)})
	return nil
}

func (s *Server) apiDeleteFile(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u)) // the service applies the ownership rules for u
	if err := s.svc.DeleteFile(r.Context(), r.PathValue("id"), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiLicenses(w http.ResponseWriter, r *http.Request) {
	type lic struct {
		node.License
		Accepted bool `json:"accepted"`
	}
	var out []lic
	for _, l := range node.AllLicenses() {
		out = append(out, lic{License: l, Accepted: s.svc.Policy().Check(l.ID) == nil})
	}
	writeJSON(w, http.StatusOK, map[string]any{"licenses": out})
}
