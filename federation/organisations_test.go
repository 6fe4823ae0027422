package federation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// TestCopyCarriesOrganisation: a resource of one of hub A's member
// organisations reaches hub B with the organisation's name and the URL of
// its page on A, and B's page credits "par NAME (hub-a)" with that link;
// giving the resource to another organisation on A updates B's copy.
func TestCopyCarriesOrganisation(t *testing.T) {
	ctx := context.Background()
	a := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-a"})
	b := testnode.Start(t, testnode.Options{Federate: true, Hub: "hub-b"})
	for _, o := range []node.Organisation{{Slug: "tilleuls", Name: "Centre social Les Tilleuls"}, {Slug: "mediatheque", Name: "Médiathèque <du> Port"}} {
		if _, err := a.Service.AddOrganisation(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	follow(t, b, a, state.MirrorNone)
	r, err := a.Service.Create(ctx, node.Resource{Metadata: node.Metadata{Title: "Fiche des Tilleuls", Kind: "practical-sheet",
		License: "CC0-1.0", Organisation: "tilleuls"}})
	if err != nil {
		t.Fatal(err)
	}
	origin := a.URL + "/r/" + r.ID
	var copy node.Resource
	testenv.Eventually(t, 15*time.Second, "the copy reaches B", func() bool {
		var ok bool
		copy, ok = remotes(t, b)[origin]
		return ok
	})
	if copy.OrganisationName != "Centre social Les Tilleuls" || copy.OrganisationURL != a.URL+"/organisations/tilleuls" || copy.Organisation != "" {
		t.Fatalf("B's copy: organisation %q, name %q, url %q; want no local slug, A's name and page", copy.Organisation, copy.OrganisationName, copy.OrganisationURL)
	}
	_, page, _ := get(t, b.URL+"/r/"+copy.ID)
	if want := `<a href="` + a.URL + `/organisations/tilleuls" rel="external">par Centre social Les Tilleuls (hub-a)</a>`; !strings.Contains(string(page), want) {
		t.Fatalf("B's page lacks %s", want)
	}
	// An organisation with markup in its name is escaped on B's page.
	give := "mediatheque"
	if _, err := a.Service.Update(ctx, r.ID, node.Patch{Organisation: &give}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "the update reaches B", func() bool {
		return remotes(t, b)[origin].OrganisationName == "Médiathèque <du> Port"
	})
	_, page, _ = get(t, b.URL+"/r/"+copy.ID)
	if !strings.Contains(string(page), "par Médiathèque &lt;du&gt; Port (hub-a)") {
		t.Fatalf("B's page does not show the escaped new organisation")
	}
}
