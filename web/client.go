package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"time"

	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Client speaks the node's HTTP API. The CLI uses it over the admin socket
// while `communs serve` holds the catalog's lock; tests use it over TCP.
type Client struct {
	base  string
	http  *http.Client
	token string
}

// NewClient returns a client for base (e.g. http://127.0.0.1:8080) with an
// optional API token.
func NewClient(base, token string) *Client {
	return &Client{base: base, http: &http.Client{}, token: token}
}

// NewSocketClient returns a client that reaches the admin API on a Unix socket.
func NewSocketClient(socket string) *Client {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &Client{base: "http://communs-admin", http: &http.Client{Transport: tr}}
}

// Ping checks the server answers.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.do(ctx, http.MethodGet, paths.APILicenses, nil, "", nil)
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// RemoteError is an error answered by the server; Is maps its code back to
// the node's sentinel errors so callers can branch on them.
type RemoteError struct {
	Status  int
	Code    string
	Message string
}

func (e *RemoteError) Error() string { return e.Message }

// Is maps HTTP statuses back to node errors (internal/httperr's table).
func (e *RemoteError) Is(target error) bool {
	s := httperr.Sentinel(e.Status)
	return s != nil && target == s
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return remoteError(resp, method, path)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func remoteError(resp *http.Response, method, path string) error {
	var e apiError
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
		return &RemoteError{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
	}
	return &RemoteError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
}

func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(data), "application/json"
	}
	return c.do(ctx, method, path, body, ct, out)
}

// Get returns a resource.
func (c *Client) Get(ctx context.Context, id string) (node.Resource, error) {
	var out ResourceJSON
	err := c.do(ctx, http.MethodGet, paths.APIResourcePath(id), nil, "", &out)
	return out.toResource(), err
}

func (r ResourceJSON) toResource() node.Resource {
	res := r.Resource
	res.Files = nil
	for _, f := range r.Files {
		res.Files = append(res.Files, f.File)
	}
	return res
}

// List returns a page of resources, newest first.
func (c *Client) List(ctx context.Context, opt node.ListOptions) ([]node.Resource, string, error) {
	q := url.Values{}
	if opt.After != "" {
		q.Set("cursor", opt.After)
	}
	if opt.Limit > 0 {
		q.Set("limit", strconv.Itoa(opt.Limit))
	}
	if opt.Origin != "" {
		q.Set("origin", opt.Origin)
	}
	var out struct {
		Items []ResourceJSON `json:"items"`
		Next  string         `json:"next"`
	}
	if err := c.do(ctx, http.MethodGet, paths.APIResources+"?"+q.Encode(), nil, "", &out); err != nil {
		return nil, "", err
	}
	var rs []node.Resource
	for _, it := range out.Items {
		rs = append(rs, it.toResource())
	}
	return rs, out.Next, nil
}

// Delete removes a resource.
func (c *Client) Delete(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, paths.APIResourcePath(id), nil, "", nil)
}

// Publish sends metadata and files in one multipart request, streamed
// through a pipe so a large kit is never held in memory.
func (c *Client) Publish(ctx context.Context, r node.Resource, files node.Uploads, replace bool) (node.Resource, error) {
	in := ResourceInput{ID: r.ID, Metadata: r.Metadata}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", `form-data; name="resource"`)
			h.Set("Content-Type", "application/json")
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if err := json.NewEncoder(part).Encode(in); err != nil {
				return err
			}
			if files != nil {
				err := files(func(u node.Upload) error {
					h := textproto.MIMEHeader{}
					h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, u.Name))
					if u.MediaType != "" {
						h.Set("Content-Type", u.MediaType)
					}
					if u.Size >= 0 {
						h.Set("Content-Length", strconv.FormatInt(u.Size, 10))
					}
					if u.SHA256 != "" {
						h.Set("X-Sha256", u.SHA256)
					}
					part, err := mw.CreatePart(h)
					if err != nil {
						return err
					}
					_, err = io.Copy(part, u.Body)
					return err
				})
				if err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	path := paths.APIResources
	if replace {
		path += "?replace=true"
	}
	var out ResourceJSON
	err := c.do(ctx, http.MethodPost, path, pr, mw.FormDataContentType(), &out)
	pr.CloseWithError(errors.New("request finished"))
	return out.toResource(), err
}

// AddUser creates a user and returns its first token.
func (c *Client) AddUser(ctx context.Context, name, role string) (node.User, string, error) {
	var out UserWithToken
	err := c.doJSON(ctx, http.MethodPost, "/admin/v1/users", addUserRequest{Name: name, Role: role}, &out)
	return out.User, out.Token, err
}

// ListUsers lists users.
func (c *Client) ListUsers(ctx context.Context) ([]node.User, error) {
	var out struct {
		Users []node.User `json:"users"`
	}
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/users", nil, &out)
	return out.Users, err
}

// RemoveUser deletes a user.
func (c *Client) RemoveUser(ctx context.Context, name string) error {
	return c.doJSON(ctx, http.MethodDelete, "/admin/v1/users/"+url.PathEscape(name), nil, nil)
}

// NewToken issues a token for a user.
func (c *Client) NewToken(ctx context.Context, name string) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	err := c.doJSON(ctx, http.MethodPost, "/admin/v1/users/"+url.PathEscape(name)+"/tokens", nil, &out)
	return out.Token, err
}

// SetPassword sets a user's web password.
func (c *Client) SetPassword(ctx context.Context, name, password string) error {
	return c.doJSON(ctx, http.MethodPut, "/admin/v1/users/"+url.PathEscape(name)+"/password", map[string]string{"password": password}, nil)
}

// Report sends an anonymous report about a resource.
func (c *Client) Report(ctx context.Context, id string, in node.ReportInput) (ReportJSON, error) {
	var out ReportJSON
	err := c.doJSON(ctx, http.MethodPost, paths.APIResourcePath(id)+"/reports", in, &out)
	return out, err
}

// ListReports lists reports (admin socket).
func (c *Client) ListReports(ctx context.Context, f node.ReportFilter) ([]node.Report, error) {
	var out struct {
		Reports []node.Report `json:"reports"`
	}
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/reports?open="+strconv.FormatBool(f.OpenOnly), nil, &out)
	return out.Reports, err
}

// GetReport returns one report (admin socket).
func (c *Client) GetReport(ctx context.Context, id string) (node.Report, error) {
	var out node.Report
	err := c.doJSON(ctx, http.MethodGet, "/admin/v1/reports/"+url.PathEscape(id), nil, &out)
	return out, err
}

// CloseReport closes a report with a note (admin socket).
func (c *Client) CloseReport(ctx context.Context, id, note string) (node.Report, error) {
	var out node.Report
	err := c.doJSON(ctx, http.MethodPost, "/admin/v1/reports/"+url.PathEscape(id)+"/close", map[string]string{"note": note}, &out)
	return out, err
}

// Search runs GET /api/v1/search with the given parameters.
func (c *Client) Search(ctx context.Context, params url.Values) (SearchJSON, error) {
	var out SearchJSON
	err := c.do(ctx, http.MethodGet, paths.APISearch+"?"+params.Encode(), nil, "", &out)
	return out, err
}

// IndexStatus asks the running node how far its search index is behind.
func (c *Client) IndexStatus(ctx context.Context) (node.IndexStatus, error) {
	var out node.IndexStatus
	err := c.do(ctx, http.MethodGet, "/admin/v1/index", nil, "", &out)
	return out, err
}

// RebuildIndex asks the running node to recreate its index, calling
// progress with each line of the streamed answer.
func (c *Client) RebuildIndex(ctx context.Context, progress func(done, total int)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/admin/v1/index/rebuild", nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("rebuild the index: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return remoteError(resp, "POST", "/admin/v1/index/rebuild")
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var ev RebuildEvent
		if err := dec.Decode(&ev); err != nil {
			return fmt.Errorf("rebuild the index: the node stopped answering before the end: %w", err)
		}
		switch {
		case ev.Error != "":
			return fmt.Errorf("rebuild the index: %s", ev.Error)
		case ev.Done:
			return nil
		case progress != nil:
			progress(ev.Indexed, ev.Total)
		}
	}
}

// AdaptResource adapts a resource through the admin socket.
func (c *Client) AdaptResource(ctx context.Context, id string, opt node.AdaptOptions) (node.Resource, error) {
	var out ResourceJSON
	err := c.doJSON(ctx, http.MethodPost, "/admin/v1/resources/"+url.PathEscape(id)+"/adapt",
		adaptInput{Title: opt.Title, Organisation: opt.Organisation}, &out)
	return out.toResource(), err
}
