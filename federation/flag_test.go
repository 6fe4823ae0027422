package federation_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

func reportsOf(t *testing.T, n *testnode.Node) []node.Report {
	t.Helper()
	rs, err := n.Service.ListReports(context.Background(), node.ReportFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// A report on B's copy reaches the origin A as a signed Flag; A lists it
// naming B, without the reporter's contact.
func TestReportReachesOriginAsFlag(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	orig := publishCorpus(t, a, 1)[0]
	follow(t, b, a, state.MirrorNone)
	var copyID string
	testenv.Eventually(t, 15*time.Second, "B holds A's resource", func() bool {
		for _, r := range remotes(t, b) {
			copyID = r.ID
		}
		return copyID != ""
	})

	body := `{"reason":"licence","message":"La licence du diaporama n'est pas la même.","contact":"ana@exemple.fr"}`
	req, _ := http.NewRequest("POST", b.URL+"/api/v1/resources/"+copyID+"/reports", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("report on B about %q: status %d", copyID, resp.StatusCode)
	}
	if rs := reportsOf(t, b); len(rs) != 1 || rs[0].Contact != "ana@exemple.fr" || rs[0].From != "" {
		t.Fatalf("B's own record of the report: %+v", rs)
	}

	var got []node.Report
	testenv.Eventually(t, 15*time.Second, "the Flag reaches A", func() bool {
		got = reportsOf(t, a)
		return len(got) > 0
	})
	r := got[0]
	if len(got) != 1 || r.ResourceID != orig.ID || r.From != b.Fed.ActorURL() || r.Reason != "licence" ||
		r.Message != "La licence du diaporama n'est pas la même." || !r.Open() {
		t.Errorf("A's report = %+v, want one about %s from %s", got, orig.ID, b.Fed.ActorURL())
	}
	if r.Contact != "" {
		t.Errorf("the reporter's contact reached the origin: %q", r.Contact)
	}

	// Flags A must refuse: signed by B but about an object A does not own,
	// about an unknown resource, and unsigned.
	keyB, keyID := actorKey(t, b), b.Fed.ActorURL()+"#main-key"
	own := publishCorpus(t, b, 1)[0]
	flag := func(n int, object, content string) []byte {
		return mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams",
			"id": b.URL + "/activities/flag/forged-" + string(rune('a'+n)), "type": "Flag", "actor": b.Fed.ActorURL(),
			"object": object, "content": content, "to": []string{a.Fed.ActorURL()}})
	}
	inbox := a.URL + "/actor/inbox"
	for i, tc := range []struct {
		name, object, content string
		signed                bool
		want                  int
	}{
		{"object on another hub", b.URL + "/r/" + own.ID, "faux", true, http.StatusBadRequest},
		{"unknown resource of A", a.URL + "/r/nexiste-pas", "faux", true, http.StatusNotFound},
		{"content over 2,000 characters", a.URL + "/r/" + orig.ID, strings.Repeat("x", 2001), true, http.StatusBadRequest},
		{"content with control characters", a.URL + "/r/" + orig.ID, "\x1b[2Jeffacé", true, http.StatusBadRequest},
		{"unsigned", a.URL + "/r/" + orig.ID, "faux", false, http.StatusUnauthorized},
	} {
		key := keyB
		if !tc.signed {
			key = nil
		}
		if st := send(t, inbox, flag(i, tc.object, tc.content), key, keyID, nil); st != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, st, tc.want)
		}
	}
	// The refusals are synchronous: nothing was recorded to apply later.
	if rs := reportsOf(t, a); len(rs) != 1 {
		t.Errorf("refused Flags were stored: %d reports on A", len(rs))
	}

	// A Flag about B's copy, signed by a peer B follows (A itself), is
	// refused by B with a 403: only the origin takes forwarded reports, so
	// a report cannot bounce between hubs.
	copyFlag := mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams",
		"id": a.URL + "/activities/flag/about-a-copy", "type": "Flag", "actor": a.Fed.ActorURL(),
		"object": b.URL + "/r/" + copyID, "content": "faux", "to": []string{b.Fed.ActorURL()}})
	if st := send(t, b.URL+"/actor/inbox", copyFlag, actorKey(t, a), a.Fed.ActorURL()+"#main-key", nil); st != http.StatusForbidden {
		t.Errorf("Flag to B about its copy %s: status %d, want 403", copyID, st)
	}
	if rs := reportsOf(t, b); len(rs) != 1 {
		t.Errorf("B stored the Flag about its copy: %d reports on B, want its own 1", len(rs))
	}
}
