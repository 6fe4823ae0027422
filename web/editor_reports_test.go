package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/node"
)

// addEditorReports files reports on the org fixture's resources: on
// kit-alice (tilleuls) one with a contact and a hostile message, one
// forwarded by another hub and one closed; on kit-carol (no
// organisation) one more.
func addEditorReports(t *testing.T, f orgFixture) {
	t.Helper()
	ctx := context.Background()
	svc := f.n.Service
	if _, err := svc.Report(ctx, "kit-alice", node.ReportInput{Reason: node.ReasonBrokenFile,
		Message: "Le PDF est illisible.\nPage 3 <script>alert(1)</script>", Contact: "ana@exemple.fr"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReceiveReport(ctx, "https://hub-b.exemple.org/federation/actor", "kit-alice",
		node.ReportInput{Reason: node.ReasonOutdated, Message: "Signalé sur le hub B"}); err != nil {
		t.Fatal(err)
	}
	closed, err := svc.Report(ctx, "kit-alice", node.ReportInput{Reason: node.ReasonOther, Message: "Déjà réglé"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CloseReport(ctx, closed.ID, "corrigé"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Report(ctx, "kit-carol", node.ReportInput{Reason: node.ReasonLicence, Message: "Licence douteuse",
		Contact: "ben@exemple.fr"}); err != nil {
		t.Fatal(err)
	}
}

// TestEditorOpenReports: each account's editor pages list the open
// reports on the resources it may change, and only those: an editor of
// an organisation its organisation's, an editor without organisation the
// ones it published, an admin all. The reporter's contact never shows,
// and the message is escaped text.
func TestEditorOpenReports(t *testing.T) {
	f := newOrgFixture(t)
	addEditorReports(t, f)
	alice := []string{"Fichier cassé ou illisible", "Page 3 &lt;script&gt;alert(1)&lt;/script&gt;", "Contenu obsolète",
		"transmis par hub-b.exemple.org", `<h3><a href="/editeur/r/kit-alice">Kit alice</a></h3>`}
	carol := []string{"Problème de licence", "Licence douteuse", `<h3><a href="/editeur/r/kit-carol">Kit carol</a></h3>`}
	never := []string{"ana@exemple.fr", "ben@exemple.fr", "<script>alert", "Déjà réglé", "corrigé"}
	for _, c := range []struct {
		user      string
		want, not []string
		count     string
	}{
		{"alice", alice, carol, "2 signalements ouverts"},
		{"bob", nil, append(append([]string{}, alice...), carol...), "Aucun signalement ouvert"},
		{"carol", carol, alice, "1 signalement ouvert"},
		{"root", append(append([]string{}, alice...), carol...), nil, "3 signalements ouverts"},
	} {
		b := loginAs(t, f.n.URL, c.user)
		resp, page := b.get("/editeur")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: /editeur %d", c.user, resp.StatusCode)
		}
		for _, s := range append([]string{"Signalements ouverts", c.count}, c.want...) {
			if !strings.Contains(page, s) {
				t.Errorf("%s's editor page lacks %q", c.user, s)
			}
		}
		for _, s := range append(append([]string{}, c.not...), never...) {
			if strings.Contains(page, s) {
				t.Errorf("%s's editor page shows %q", c.user, s)
			}
		}
	}

	// The edit page lists its own resource's reports only.
	b := loginAs(t, f.n.URL, "root")
	resp, page := b.get("/editeur/r/kit-alice")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("edit page: %d", resp.StatusCode)
	}
	for _, s := range append([]string{"Signalements ouverts", "2 signalements ouverts"}, alice[:4]...) {
		if !strings.Contains(page, s) {
			t.Errorf("kit-alice's edit page lacks %q", s)
		}
	}
	for _, s := range append([]string{"Licence douteuse"}, never...) {
		if strings.Contains(page, s) {
			t.Errorf("kit-alice's edit page shows %q", s)
		}
	}
	// In English too, with the translated reason.
	b.get("/langue/en?retour=/")
	_, page = b.get("/editeur/r/kit-alice")
	for _, s := range []string{"Open reports", "Broken or unreadable file", "forwarded by hub-b.exemple.org"} {
		if !strings.Contains(page, s) {
			t.Errorf("kit-alice's edit page in English lacks %q", s)
		}
	}
}

// TestEditorOpenReportsBounded: the list stops at the newest 100 and
// counts the rest.
func TestEditorOpenReportsBounded(t *testing.T) {
	f := newOrgFixture(t)
	for i := range node.MaxEditorReports + 5 {
		if _, err := f.n.Service.Report(context.Background(), "kit-carol", node.ReportInput{Reason: node.ReasonError,
			Message: fmt.Sprintf("erreur n°%d.", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b := loginAs(t, f.n.URL, "carol")
	_, page := b.get("/editeur")
	if n := strings.Count(page, `class="report-message"`); n != node.MaxEditorReports {
		t.Errorf("%d reports shown, want %d", n, node.MaxEditorReports)
	}
	for _, s := range []string{"105 signalements ouverts", "Et 5 signalements plus anciens", "erreur n°104."} {
		if !strings.Contains(page, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if strings.Contains(page, "erreur n°4.") {
		t.Error("an old report beyond the bound is shown")
	}
}
