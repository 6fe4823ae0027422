package web

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAbandonedRequestIsNotAnError: a request whose client went away (its
// context cancelled, so storage reports context.Canceled) logs no ERROR:
// the node did nothing wrong.
func TestAbandonedRequestIsNotAnError(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("PUT", "/api/v1/resources/x/files/a.pdf", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	s.writeError(w, r, fmt.Errorf("store file: put blob: read source: %w", context.Canceled))
	if strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "abandoned") {
		t.Fatalf("log:\n%s", logs.String())
	}
	// The same error while the client is still there is the node's failure.
	logs.Reset()
	r = httptest.NewRequest("PUT", "/api/v1/resources/x/files/a.pdf", nil)
	s.writeError(httptest.NewRecorder(), r, fmt.Errorf("store file: %w", context.Canceled))
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a cancellation the client did not cause must stay an ERROR:\n%s", logs.String())
	}
}
