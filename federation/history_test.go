package federation_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// historyLines reads a resource's history through the node's public API
// and writes each revision as "version hub: changes".
func historyLines(t *testing.T, n *testnode.Node, id string) []string {
	t.Helper()
	status, body, _ := get(t, n.URL+"/api/v1/resources/"+id+"/history")
	if status != http.StatusOK {
		t.Fatalf("history of %s on %s: %d %s", id, n.URL, status, body)
	}
	var page struct {
		Items []node.Revision `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range page.Items {
		line := fmt.Sprintf("%d %s:", r.Version, r.Hub)
		if r.Created {
			line += " created"
		}
		if r.By != "" {
			line += " by " + r.By
		}
		for _, f := range r.Fields {
			line += " " + f.Field + "=" + f.After
		}
		for _, f := range r.Files {
			line += " " + f.Change + " " + f.Name + " " + f.Before + ">" + f.After
		}
		out = append(out, line)
	}
	return out
}

// TestHistoryFollowsTheCopy: A publishes a kit that B follows, then
// changes it three times (title, one file replaced, one removed). A's
// history and B's copy's history tell the same story, B's by hub-a, with
// the same file digests.
func TestHistoryFollowsTheCopy(t *testing.T) {
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	follow(t, b, a, state.MirrorFiles)
	ctx := context.Background()
	upload := func(name, body string) node.Upload {
		return node.Upload{Name: name, Body: strings.NewReader(body), Size: int64(len(body))}
	}
	r, err := a.Service.Publish(ctx, node.Resource{Metadata: node.Metadata{Title: "Fiche box", Kind: "practical-sheet", License: "CC-BY-4.0"}},
		func(yield func(node.Upload) error) error {
			if err := yield(upload("guide.pdf", "%PDF-1.7 v1")); err != nil {
				return err
			}
			return yield(upload("notes.txt", "notes"))
		}, false)
	if err != nil {
		t.Fatal(err)
	}
	origin := a.URL + "/r/" + r.ID
	copyOf := func() (node.Resource, bool) { c, ok := remotes(t, b)[origin]; return c, ok }
	testenv.Eventually(t, 15*time.Second, "the kit reaches B", func() bool { c, ok := copyOf(); return ok && len(c.Files) == 2 })

	v2 := digestHex("%PDF-1.7 v2")
	steps := []struct {
		what    string
		change  func() error
		arrived func(node.Resource) bool
	}{
		{"title", func() error {
			title := "Sécuriser sa box internet"
			_, err := a.Service.Update(ctx, r.ID, node.Patch{Title: &title})
			return err
		}, func(c node.Resource) bool { return c.Title == "Sécuriser sa box internet" }},
		{"file replaced", func() error {
			_, err := a.Service.PutFile(ctx, r.ID, upload("guide.pdf", "%PDF-1.7 v2"))
			return err
		}, func(c node.Resource) bool { f, ok := c.File("guide.pdf"); return ok && f.SHA256 == v2 }},
		{"file removed", func() error { return a.Service.DeleteFile(ctx, r.ID, "notes.txt") },
			func(c node.Resource) bool { return len(c.Files) == 1 }},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		testenv.Eventually(t, 15*time.Second, s.what+" reaches B", func() bool { c, ok := copyOf(); return ok && s.arrived(c) })
	}

	v1, notes := digestHex("%PDF-1.7 v1"), digestHex("notes")
	story := func(hub string) []string {
		return []string{
			"4 " + hub + ": removed notes.txt " + notes + ">",
			"3 " + hub + ": replaced guide.pdf " + v1 + ">" + v2,
			"2 " + hub + ": title=Sécuriser sa box internet",
			"1 " + hub + ": created added guide.pdf >" + v1 + " added notes.txt >" + notes,
		}
	}
	if got, want := historyLines(t, a, r.ID), story("hub-a"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("A's history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c, _ := copyOf()
	if got, want := historyLines(t, b, c.ID), story("hub-a"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("B's copy's history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c.Version != 4 {
		t.Errorf("B's copy is at version %d, want 4", c.Version)
	}
	// The copy's page says where its changes came from.
	status, body, _ := get(t, b.URL+"/r/"+c.ID)
	if page := string(body); status != 200 || !strings.Contains(page, "Fichier guide.pdf remplacé le ") || !strings.Contains(page, "(modification reçue de hub-a)") ||
		!strings.Contains(page, "Copie reçue de hub-a le ") {
		t.Errorf("B's copy page (%d) does not tell its history", status)
	}
}

func digestHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
