package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reports: anyone may tell a resource's authors that it is outdated, wrong,
// broken, under a doubtful licence or a duplicate. A report about a copy
// received from a peer is also forwarded to its origin (Config.ForwardReport),
// without the reporter's contact.

// Report reasons.
const (
	ReasonOutdated   = "outdated"
	ReasonError      = "error"
	ReasonBrokenFile = "broken-file"
	ReasonLicence    = "licence"
	ReasonDuplicate  = "duplicate"
	ReasonOther      = "other"
)

// ReportReasons lists the reasons in the order forms show them.
var ReportReasons = []string{ReasonOutdated, ReasonError, ReasonBrokenFile, ReasonLicence, ReasonDuplicate, ReasonOther}

// Bounds of a report.
const (
	MaxReportMessage = 2000 // characters
	MaxReportContact = 254  // bytes, the longest e-mail address
	// MaxOpenReports bounds the open reports stored per resource, so a
	// flood from many addresses cannot fill the disk.
	MaxOpenReports = 1000
)

// Report is one report about a resource.
type Report struct {
	ID         string    `json:"id"`
	ResourceID string    `json:"resource_id"`
	Reason     string    `json:"reason"`
	Message    string    `json:"message"`
	Contact    string    `json:"contact,omitempty"`
	Created    time.Time `json:"created"`
	// From is the actor of the hub that forwarded the report (a federated
	// Flag); empty for a report made on this node.
	From string `json:"from,omitempty"`
	// Closed is zero while the report is open.
	Closed time.Time `json:"closed,omitzero"`
	Note   string    `json:"note,omitempty"`
}

// Open reports whether no admin closed the report yet.
func (r *Report) Open() bool { return r.Closed.IsZero() }

// ReportFilter selects reports to list.
type ReportFilter struct {
	OpenOnly bool
}

// Reports stores reports. Implementation: storage/catalog.
type Reports interface {
	// AddReport stores r unless its resource already has maxOpen open
	// reports (ErrTooMany); the check and the write are one transaction.
	AddReport(ctx context.Context, r Report, maxOpen int) error
	// GetReport returns a report or ErrNotFound.
	GetReport(ctx context.Context, id string) (Report, error)
	// ListReports returns reports oldest first.
	ListReports(ctx context.Context, f ReportFilter) ([]Report, error)
	// UpdateReport applies fn to the stored report atomically.
	UpdateReport(ctx context.Context, id string, fn func(*Report) error) (Report, error)
	// OpenReports counts the open reports.
	OpenReports(ctx context.Context) (int, error)
}

// ReportInput is what a reporter sends.
type ReportInput struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
	Contact string `json:"contact,omitempty"`
}

// Validate checks the input and returns it trimmed.
func (in ReportInput) Validate() (ReportInput, error) {
	in.Reason = strings.TrimSpace(in.Reason)
	in.Message = strings.TrimSpace(in.Message)
	in.Contact = strings.TrimSpace(in.Contact)
	ok := false
	for _, r := range ReportReasons {
		ok = ok || in.Reason == r
	}
	if !ok {
		return in, invalid("reason", "must be one of %s", strings.Join(ReportReasons, ", "))
	}
	if !utf8.ValidString(in.Message) {
		return in, &ValidationError{Field: "message", Code: "invalid_utf8", Rule: "not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(in.Message); n > MaxReportMessage {
		return in, invalid("message", "at most %d characters (got %d)", MaxReportMessage, n)
	}
	// Control characters (ESC and C1 among them) could drive an admin's
	// terminal when `communs report show` prints the message.
	if strings.ContainsFunc(in.Message, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) {
		return in, invalid("message", "must not contain control characters")
	}
	if in.Contact != "" {
		if err := validContact(in.Contact); err != nil {
			return in, err
		}
	}
	return in, nil
}

func validContact(c string) error {
	if len(c) > MaxReportContact {
		return invalid("contact", "at most %d bytes", MaxReportContact)
	}
	a, err := mail.ParseAddress(c)
	if err != nil || a.Address != c || a.Name != "" || !strings.Contains(c[strings.LastIndexByte(c, '@')+1:], ".") {
		return invalid("contact", "must be an e-mail address such as nom@exemple.fr, or empty")
	}
	return nil
}

func newReportID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("report id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func (s *Service) reportStore() (Reports, error) {
	if s.reports == nil {
		return nil, fmt.Errorf("reports are not stored on this node: %w", ErrUnavailable)
	}
	return s.reports, nil
}

// Report stores a report about resource id made on this node and, when the
// resource is a copy from a peer, forwards it to its origin (without the
// contact).
func (s *Service) Report(ctx context.Context, id string, in ReportInput) (Report, error) {
	st, err := s.reportStore()
	if err != nil {
		return Report{}, err
	}
	in, err = in.Validate()
	if err != nil {
		return Report{}, err
	}
	res, err := s.Get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	rid, err := newReportID()
	if err != nil {
		return Report{}, err
	}
	rep := Report{ID: rid, ResourceID: res.ID, Reason: in.Reason, Message: in.Message, Contact: in.Contact, Created: s.now().UTC()}
	if err := st.AddReport(ctx, rep, MaxOpenReports); err != nil {
		return Report{}, fmt.Errorf("report on %q: %w", res.ID, err)
	}
	s.log.Info("report received", "report", rep.ID, "resource", res.ID, "reason", rep.Reason)
	if !res.Local() && s.forwardReport != nil {
		fwd := rep
		fwd.Contact = "" // the reporter's contact stays on this node
		if err := s.forwardReport(ctx, res, fwd); err != nil {
			// The report is stored here; the forward is best effort.
			s.log.Warn("report not forwarded to the origin", "report", rep.ID, "origin", res.Origin, "err", err)
		}
	}
	return rep, nil
}

// ReceiveReport stores a report forwarded by the peer whose actor is from,
// about a resource this node owns. A report about a copy is refused: only
// the origin takes forwarded reports, so they cannot bounce between hubs.
func (s *Service) ReceiveReport(ctx context.Context, from, id string, in ReportInput) (Report, error) {
	st, err := s.reportStore()
	if err != nil {
		return Report{}, err
	}
	in.Contact = "" // a peer never forwards one
	in, err = in.Validate()
	if err != nil {
		return Report{}, err
	}
	res, err := s.Get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if !res.Local() {
		return Report{}, fmt.Errorf("resource %q is a copy from %s; report it there: %w", id, res.Origin, ErrForbidden)
	}
	rid, err := newReportID()
	if err != nil {
		return Report{}, err
	}
	rep := Report{ID: rid, ResourceID: res.ID, Reason: in.Reason, Message: in.Message, Created: s.now().UTC(), From: from}
	if err := st.AddReport(ctx, rep, MaxOpenReports); err != nil {
		return Report{}, fmt.Errorf("report on %q from %s: %w", res.ID, from, err)
	}
	s.log.Info("report received from a peer", "report", rep.ID, "resource", res.ID, "from", from)
	return rep, nil
}

// ListReports lists reports, oldest first.
func (s *Service) ListReports(ctx context.Context, f ReportFilter) ([]Report, error) {
	st, err := s.reportStore()
	if err != nil {
		return nil, err
	}
	return st.ListReports(ctx, f)
}

// GetReport returns one report.
func (s *Service) GetReport(ctx context.Context, id string) (Report, error) {
	st, err := s.reportStore()
	if err != nil {
		return Report{}, err
	}
	return st.GetReport(ctx, id)
}

// CloseReport closes a report with an optional note; closing a closed
// report is refused (ErrConflict).
func (s *Service) CloseReport(ctx context.Context, id, note string) (Report, error) {
	st, err := s.reportStore()
	if err != nil {
		return Report{}, err
	}
	note = strings.TrimSpace(note)
	if !utf8.ValidString(note) || utf8.RuneCountInString(note) > MaxReportMessage {
		return Report{}, invalid("note", "at most %d characters of UTF-8 text", MaxReportMessage)
	}
	now := s.now().UTC()
	return st.UpdateReport(ctx, id, func(r *Report) error {
		if !r.Open() {
			return fmt.Errorf("report %s was closed on %s: %w", r.ID, r.Closed.Format(time.RFC3339), ErrConflict)
		}
		r.Closed, r.Note = now, note
		return nil
	})
}

// SetReportForwarder sets what sends reports about copies to their origin
// (the federation's Flag); call it before serving.
func (s *Service) SetReportForwarder(fn func(ctx context.Context, res Resource, r Report) error) {
	s.forwardReport = fn
}

// OpenReports counts the open reports (for /metrics).
func (s *Service) OpenReports(ctx context.Context) (int, error) {
	st, err := s.reportStore()
	if err != nil {
		return 0, err
	}
	return st.OpenReports(ctx)
}

// MaxEditorReports bounds the open reports an editor's page lists.
const MaxEditorReports = 100

// EditorReport is an open report as an editor sees it: the report without
// its reporter's contact, with its resource's title.
type EditorReport struct {
	Report
	Title string
	// FromHost is the host of the hub that forwarded the report, or "".
	FromHost string
	// Editable says the resource has an edit page here (it is local).
	Editable bool
}

// EditorReports is a bounded list of open reports, newest first.
type EditorReports struct {
	Reports []EditorReport
	// More counts the open reports left out of Reports by the bound.
	More int
}

// OpenReportsFor lists the open reports u may act on, newest first, at
// most MaxEditorReports: those about resources u may change by CanChange
// (an admin, every report). resourceID, when not empty, keeps only that
// resource's reports. A report whose resource is gone is left out.
//
// The reporter's contact is cleared here: only admins read it, through the
// command line (`communs report show`); an editor's page never gets it.
func (s *Service) OpenReportsFor(ctx context.Context, u User, resourceID string) (EditorReports, error) {
	var out EditorReports
	if u.Role != RoleAdmin && u.Role != RoleEditor {
		return out, fmt.Errorf("user %q may not read reports: role %q: %w", u.Name, u.Role, ErrForbidden)
	}
	all, err := s.ListReports(ctx, ReportFilter{OpenOnly: true})
	if err != nil {
		return out, fmt.Errorf("open reports for %q: %w", u.Name, err)
	}
	type verdict struct {
		res Resource
		ok  bool
	}
	seen := map[string]verdict{}
	for i := len(all) - 1; i >= 0; i-- { // stored oldest first
		r := all[i]
		if !r.Open() || (resourceID != "" && r.ResourceID != resourceID) {
			continue
		}
		v, done := seen[r.ResourceID]
		if !done {
			res, gerr := s.Get(ctx, r.ResourceID)
			switch {
			case errors.Is(gerr, ErrNotFound):
			case gerr != nil:
				return EditorReports{}, fmt.Errorf("open reports for %q: resource %q: %w", u.Name, r.ResourceID, gerr)
			default:
				// An editor acts only on this hub's resources: a copy is
				// edited, and its reports read, on its origin.
				v = verdict{res, CanChange(u, res) == nil && (u.Role == RoleAdmin || res.Local())}
			}
			seen[r.ResourceID] = v
		}
		if !v.ok {
			continue
		}
		if len(out.Reports) == MaxEditorReports {
			out.More++
			continue
		}
		r.Contact = "" // never shown to editors; admins read it with the CLI
		er := EditorReport{Report: r, Title: v.res.Title, Editable: v.res.Local()}
		if r.From != "" {
			if fu, perr := url.Parse(r.From); perr == nil && fu.Host != "" {
				er.FromHost = fu.Host
			} else {
				er.FromHost = r.From
			}
		}
		out.Reports = append(out.Reports, er)
	}
	return out, nil
}
