package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

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
