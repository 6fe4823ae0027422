package httperr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/httperr"
	"github.com/communs-numerique/communs/node"
)

// errStorage is what a disk or a database says: a path and a cause no
// client may read.
var errStorage = errors.New("open /var/lib/communs/catalog.db: input/output error")

func TestClassify(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
		field  string
		msg    string // the message the client reads
	}{
		{"validation", fmt.Errorf("publish: %w", &node.ValidationError{Field: "title", Rule: "required", Code: "required"}),
			400, "required", "title", "publish: title: required"},
		{"plain invalid", fmt.Errorf("cursor not issued here: %w", node.ErrInvalid), 400, "invalid", "", "cursor not issued here: invalid input"},
		{"not found", fmt.Errorf("resource x: %w", node.ErrNotFound), 404, "not_found", "", "resource x: not found"},
		{"conflict", fmt.Errorf("resource x exists: %w", node.ErrConflict), 409, "conflict", "", "resource x exists: conflict"},
		{"too large", fmt.Errorf("file: %w", node.ErrTooLarge), 413, "too_large", "", "file: too large"},
		{"unauthorized", fmt.Errorf("token: %w", node.ErrUnauthorized), 401, "unauthorized", "", "token: unauthorized"},
		{"forbidden", fmt.Errorf("role: %w", node.ErrForbidden), 403, "forbidden", "", "role: forbidden"},
		{"unavailable hides its cause", fmt.Errorf("%w: %w", errStorage, node.ErrUnavailable), 503, "unavailable", "", httperr.MsgUnavailable},
		{"unsupported type", fmt.Errorf("send JSON: %w", httperr.ErrUnsupportedType), 415, "unsupported_media_type", "", "send JSON: unsupported content type"},
		{"timeout", fmt.Errorf("upload stopped: %w", httperr.ErrTimeout), 408, "timeout", "", "upload stopped: request body too slow"},
		{"bad request", fmt.Errorf("form: %w", httperr.ErrBadRequest), 400, "bad_request", "", "form: bad request"},
		{"truncated body", fmt.Errorf("read part: %w", httperr.ErrTruncatedBody), 400, "truncated_body", "",
			"the request body ended before the announced end (connection cut or truncated multipart); nothing was stored, send it again"},
		{"unknown is internal", errStorage, 500, "internal", "", httperr.MsgInternal},
		{"explicit status keeps the words", httperr.Status(401, errors.New("signature refused: Date too old")), 401, "unauthorized", "", "signature refused: Date too old"},
		{"explicit 5xx hides the words", httperr.Status(503, fmt.Errorf("record activity: %w", errStorage)), 503, "unavailable", "", httperr.MsgUnavailable},
		{"hidden words inside an explicit status", httperr.Status(401, fmt.Errorf("check: %w", httperr.Hide(errStorage, "could not fetch the key"))),
			401, "unauthorized", "", "could not fetch the key"},
		{"hidden words keep the table's status", httperr.Hide(fmt.Errorf("%w: %w", errStorage, node.ErrNotFound), "no such thing"), 404, "not_found", "", "no such thing"},
		{"explicit code", &httperr.Error{Status: 502, Code: "bad_gateway", Public: "a.example does not answer", Err: errStorage}, 502, "bad_gateway", "", "a.example does not answer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := httperr.Classify(c.err)
			if a.Status != c.status || a.Code != c.code || a.Field != c.field || a.Message != c.msg {
				t.Errorf("got %d %q field %q %q\nwant %d %q field %q %q", a.Status, a.Code, a.Field, a.Message, c.status, c.code, c.field, c.msg)
			}
			if a.Status >= 500 && strings.Contains(a.Message, "/var/lib") {
				t.Errorf("a 5xx shows its cause: %q", a.Message)
			}
		})
	}
}

// TestResolveGivesA5xxAnIDTheLogCarries: an admin finds the failure a user
// reports by the id on the user's screen.
func TestResolveGivesA5xxAnIDTheLogCarries(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r := httptest.NewRequest("GET", "/api/v1/resources", nil)
	a, ok := httperr.Resolve(log, r, fmt.Errorf("list: %w", errStorage))
	if !ok || a.Status != 500 {
		t.Fatalf("got %+v, %v", a, ok)
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(a.ID) || !strings.HasSuffix(a.Message, "(error id "+a.ID+")") {
		t.Fatalf("answer without its id: %+v", a)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], "error_id="+a.ID) || !strings.Contains(lines[0], "input/output error") {
		t.Fatalf("want one ERROR line with the id and the cause, got:\n%s", logs.String())
	}

	logs.Reset()
	a, _ = httperr.Resolve(log, r, fmt.Errorf("resource x: %w", node.ErrNotFound))
	if a.ID != "" || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a refusal is no failure: %+v\n%s", a, logs.String())
	}
}

// TestResolveClientGone: a request abandoned by its client is answered
// nothing and logged quietly; the same cancellation with the client still
// there is the node's failure.
func TestResolveClientGone(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("PUT", "/api/v1/resources/x/files/a.pdf", nil).WithContext(ctx)
	if _, ok := httperr.Resolve(log, r, fmt.Errorf("put blob: %w", context.Canceled)); ok || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("an abandoned request must be answered nothing and logged quietly:\n%s", logs.String())
	}
	r = httptest.NewRequest("PUT", "/api/v1/resources/x/files/a.pdf", nil)
	if a, ok := httperr.Resolve(log, r, fmt.Errorf("put blob: %w", context.Canceled)); !ok || a.Status != 500 {
		t.Fatalf("got %+v, %v", a, ok)
	}
}

// TestSentinelReadsTheTableBackwards: a client of the admin socket
// branches on the node's errors.
func TestSentinelReadsTheTableBackwards(t *testing.T) {
	for _, err := range []error{node.ErrInvalid, node.ErrUnauthorized, node.ErrForbidden, node.ErrNotFound, node.ErrConflict, node.ErrTooLarge, node.ErrUnavailable} {
		if got := httperr.Sentinel(httperr.Classify(err).Status); got != err {
			t.Errorf("%v: status %d reads back as %v", err, httperr.Classify(err).Status, got)
		}
	}
	if httperr.Sentinel(http.StatusInternalServerError) != nil {
		t.Error("a 500 stands for no node error")
	}
}
