package federation_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

func getBody(t *testing.T, url, accept string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, data)
	}
	return data
}

// apiAdaptations reads the adaptations list of GET /api/v1/resources/{id}.
func apiAdaptations(t *testing.T, n *testnode.Node, id string) []map[string]string {
	t.Helper()
	var out struct {
		Adaptations []map[string]string `json:"adaptations"`
	}
	if err := json.Unmarshal(getBody(t, n.URL+"/api/v1/resources/"+id, "application/json"), &out); err != nil {
		t.Fatal(err)
	}
	return out.Adaptations
}

// TestAdaptationReachesOrigin: hub C follows hub A, so it holds a copy of
// A's kit whose files stay on A (no mirroring). A does not follow C. C
// adapts the copy: the files are fetched from A and verified, the
// adaptation credits A's kit (page JSON-LD, zip), and its Create reaches
// A's inbox although A does not follow C; A lists it without keeping a
// copy, and forgets it when C deletes the adaptation. Notices A must
// refuse: unsigned, or naming a resource A does not have.
func TestAdaptationReachesOrigin(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-lens"})
	c := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-gap"})
	orig := publishCorpus(t, a, 1)[0]
	if len(orig.Files) == 0 {
		t.Fatal("the corpus kit has no file; the test needs one to fetch")
	}
	follow(t, c, a, state.MirrorNone)
	var cp node.Resource
	testenv.Eventually(t, 15*time.Second, "C holds A's kit", func() bool {
		cp = remotes(t, c)[a.URL+"/r/"+orig.ID]
		return cp.ID != ""
	})
	if cp.Files[0].SHA256 != "" {
		t.Fatal("C mirrored the file; the test needs it linked to A")
	}

	ctx := context.Background()
	ad, err := c.Service.Adapt(ctx, cp.ID, node.AdaptOptions{Title: "Adaptation pour les séniors de Gap"})
	if err != nil {
		t.Fatalf("adapt on C: %v", err)
	}
	if len(ad.BasedOn) != 1 || ad.BasedOn[0].URL != a.URL+"/r/"+orig.ID || ad.BasedOn[0].Hub != cp.Hub || ad.Files[0].SHA256 == "" {
		t.Fatalf("adaptation = %+v", ad)
	}

	// A lists it (API and page), without a copy: it does not follow C.
	var got []map[string]string
	testenv.Eventually(t, 15*time.Second, "A lists C's adaptation", func() bool {
		got = apiAdaptations(t, a, orig.ID)
		return len(got) == 1
	})
	if got[0]["url"] != c.URL+"/r/"+ad.ID || got[0]["title"] != "Adaptation pour les séniors de Gap" || !strings.HasPrefix(got[0]["hub"], "hub-gap@") {
		t.Errorf("A's list = %+v", got)
	}
	if n := len(remotes(t, a)); n != 0 {
		t.Errorf("A stored %d copies of C's resources; it follows no one", n)
	}
	page := string(getBody(t, a.URL+"/r/"+orig.ID, "text/html"))
	if !strings.Contains(page, "Ce kit a été adapté par") || !strings.Contains(page, "Adaptation pour les séniors de Gap") {
		t.Error("A's page does not say its kit was adapted")
	}

	// The chain on C: page (text and JSON-LD isBasedOn) and zip.
	cpage := string(getBody(t, c.URL+"/r/"+ad.ID, "text/html"))
	if !strings.Contains(cpage, "Adapté de") || !strings.Contains(cpage, `"isBasedOn"`) || !strings.Contains(cpage, orig.ID) {
		t.Error("C's page lacks the attribution chain or isBasedOn")
	}
	zb := getBody(t, c.URL+"/r/"+ad.ID+".zip", "")
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatal(err)
	}
	var licence string
	for _, f := range zr.File {
		if f.Name == "LICENCE.txt" {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			licence = string(b)
		}
	}
	if !strings.Contains(licence, "Adapté de « "+orig.Title+" »") || !strings.Contains(licence, a.URL+"/r/"+orig.ID) {
		t.Errorf("LICENCE.txt lacks the chain:\n%s", licence)
	}
	// The federated object carries it.
	var obj map[string]any
	if err := json.Unmarshal(getBody(t, c.URL+"/r/"+ad.ID, "application/activity+json"), &obj); err != nil {
		t.Fatal(err)
	}
	if links, _ := obj["communs:basedOn"].([]any); len(links) != 1 {
		t.Errorf("object communs:basedOn = %v", obj["communs:basedOn"])
	}

	// Forged notices: unsigned, and signed by C but naming a resource A
	// does not have. Both refused at the inbox, nothing listed.
	notice := func(n int, basedOn string) []byte {
		return mustJSON(map[string]any{"@context": "https://www.w3.org/ns/activitystreams",
			"id": c.URL + "/activities/create/forged-" + string(rune('a'+n)), "type": "Create", "actor": c.Fed.ActorURL(),
			"object": map[string]any{"id": c.URL + "/r/forged-" + string(rune('a'+n)), "type": "Note", "title": "Faux",
				"communs:basedOn": []any{map[string]any{"id": basedOn, "title": "x", "spdx": "CC0-1.0"}}}})
	}
	keyC := actorKey(t, c)
	if st := send(t, a.URL+"/actor/inbox", notice(0, a.URL+"/r/"+orig.ID), nil, "", nil); st != http.StatusUnauthorized {
		t.Errorf("unsigned notice: status %d, want 401", st)
	}
	if st := send(t, a.URL+"/actor/inbox", notice(1, a.URL+"/r/nexiste-pas"), keyC, c.Fed.ActorURL()+"#main-key", nil); st != http.StatusNotFound {
		t.Errorf("notice about a resource A does not have: status %d, want 404", st)
	}

	// C deletes its adaptation: A forgets it.
	if err := c.Service.Delete(ctx, ad.ID); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "A forgets the deleted adaptation", func() bool {
		return len(apiAdaptations(t, a, orig.ID)) == 0
	})
}
