package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Anonymous reports: at most reportMaxPerWindow per client address within
// reportWindow, over a table of at most reportMaxTracked addresses.
const (
	reportMaxPerWindow = 5
	reportWindow       = 15 * time.Minute
	reportMaxTracked   = 10000
	// maxReportBody bounds a report's body: a 2,000-character message
	// is at most 8 kB of UTF-8, escaped JSON or a form a few times that.
	maxReportBody = 64 << 10
)

// ReportJSON is a report as the public API acknowledges it: never the
// contact.
type ReportJSON struct {
	ID         string    `json:"id"`
	ResourceID string    `json:"resource_id"`
	Reason     string    `json:"reason"`
	Created    time.Time `json:"created"`
}

// throttleReport counts one report from the request's client and refuses
// it with ErrTooMany and a Retry-After when the client used up its quota.
func (s *Server) throttleReport(w http.ResponseWriter, r *http.Request) error {
	until, ok := s.reportLimit.allow(clientKey(r))
	if ok {
		return nil
	}
	secs := int(time.Until(until).Seconds()) + 1
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.log.Warn("reports throttled", "client", clientKey(r), "until", until.Format(time.RFC3339))
	return fmt.Errorf("too many reports from your address; try again in %d seconds: %w", secs, node.ErrTooMany)
}

func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) error {
	if err := s.throttleReport(w, r); err != nil {
		return err
	}
	var in node.ReportInput
	r.Body = http.MaxBytesReader(w, r.Body, maxReportBody)
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	rep, err := s.svc.Report(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, ReportJSON{ID: rep.ID, ResourceID: rep.ResourceID, Reason: rep.Reason, Created: rep.Created})
	return nil
}

// Admin API (socket only).

func (s *Server) adminListReports(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	open := false
	switch v := r.URL.Query().Get("open"); v {
	case "", "false":
	case "true":
		open = true
	default:
		return &node.ValidationError{Field: "open", Code: "invalid", Rule: "must be true or false"}
	}
	rs, err := s.svc.ListReports(r.Context(), node.ReportFilter{OpenOnly: open})
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []node.Report{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": rs})
	return nil
}

func (s *Server) adminGetReport(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	rep, err := s.svc.GetReport(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) adminCloseReport(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	var in struct {
		Note string `json:"note"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	rep, err := s.svc.CloseReport(r.Context(), r.PathValue("id"), in.Note)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// reportForm is the state of the report form on a resource page.
type reportForm struct {
	Open bool // the <details> starts open
	Sent bool // the report was stored: thank the visitor
	// Error is the i18n key of the refusal; Field names the input at fault.
	Error, Field             string
	Reason, Message, Contact string
}

// reportSubmit takes the resource page's report form: a plain form post,
// so it works without JavaScript. Success redirects back to the page
// (303, so reloading does not send twice); a refusal renders the page with
// the form kept and the reason next to it.
func (s *Server) reportSubmit(w http.ResponseWriter, r *http.Request) error {
	res, err := s.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxReportBody)
	perr := r.ParseForm()
	form := reportForm{Open: true, Reason: r.PostFormValue("reason"), Message: r.PostFormValue("message"), Contact: r.PostFormValue("contact")}
	refuse := func(status int, key, field string) error {
		form.Error, form.Field = key, field
		if !utf8.ValidString(form.Message) || !utf8.ValidString(form.Contact) || !utf8.ValidString(form.Reason) {
			form.Message, form.Contact, form.Reason = "", "", ""
		}
		s.showResource(w, r, status, res, form)
		return nil
	}
	if err := s.throttleReport(w, r); err != nil {
		return refuse(http.StatusTooManyRequests, "report.error.throttled", "")
	}
	if perr != nil {
		return refuse(http.StatusBadRequest, "report.error.form", "")
	}
	if err := validUTF8Values(r.PostForm); err != nil {
		return refuse(http.StatusBadRequest, "report.error.utf8", "")
	}
	_, err = s.svc.Report(r.Context(), res.ID, node.ReportInput{Reason: form.Reason, Message: form.Message, Contact: form.Contact})
	var ve *node.ValidationError
	switch {
	case errors.As(err, &ve):
		switch ve.Field {
		case "reason", "message", "contact":
			return refuse(http.StatusBadRequest, "report.error."+ve.Field, ve.Field)
		}
		return refuse(http.StatusBadRequest, "report.error.form", "")
	case errors.Is(err, node.ErrTooMany):
		w.Header().Set("Retry-After", "3600")
		return refuse(http.StatusTooManyRequests, "report.error.full", "")
	case err != nil:
		return err
	}
	http.Redirect(w, r, paths.ResourcePath(res.ID)+"?signalement=merci#signaler", http.StatusSeeOther)
	return nil
}
