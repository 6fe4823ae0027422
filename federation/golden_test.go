package federation

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/communs-numerique/communs/node"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./federation -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed; if intended, run go test ./federation -run Golden -update and review the diff\ngot:\n%s", path, got)
	}
}

var testURLs = urls{base: "https://hub-a.example"}

var testProfile = Profile{IconURL: "https://hub-a.example/media/logo", IconType: "image/png",
	ImageURL: "https://hub-a.example/media/banner", ImageType: "image/png",
	Website: "https://www.conumm.fr/", Region: "Pays de la Loire", Discoverable: true}

func goldenResource() node.Resource {
	at := time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC)
	return node.Resource{
		ID: "creer-sa-premiere-adresse-email", Metadata: node.Metadata{Title: "Créer sa première adresse e-mail",
			Summary:     "Tutoriel pas à pas pour choisir un fournisseur & créer une adresse <sûre>.",
			Description: "**Objectifs**\n- Choisir un fournisseur\n- Définir un mot de passe solide",
			Kind:        "tutorial", Themes: []string{"messagerie", "premiers-pas"}, Audience: []string{"grand-public"},
			Level: "debutant", License: "CC-BY-SA-4.0", Language: "fr", Authors: []string{"Atelier Numérique Mayennais"},
			Hub: "conumm", Published: "2019-04-23", Organisation: "atelier-mayennais"}, OrganisationName: "Atelier Numérique Mayennais", Created: at, Updated: at.Add(time.Hour),
		Files: []node.File{{Name: "premiere-adresse-email.pdf", MediaType: "application/pdf", Size: 182044,
			SHA256: "9f2c1a7e5b3d4c6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"}},
	}
}

func TestGoldenAS2(t *testing.T) {
	actor, err := actorDoc(testURLs, "conumm", "Hub CoNumM", "Hub des Pays de la Loire", "-----BEGIN PUBLIC KEY-----\nTESTKEY\n-----END PUBLIC KEY-----\n", false, testProfile)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "actor", actor)

	obj, err := resourceObject(testURLs, goldenResource())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "resource", obj)

	to, cc := []string{asPublic}, []string{testURLs.followers()}
	create, err := activity("Create", testURLs.activity("create", "creer-sa-premiere-adresse-email"), testURLs.actor(), obj, to, cc)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "create", create)
	upd, err := activity("Update", testURLs.activity("update", "0001"), testURLs.actor(), obj, to, cc)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "update", upd)
	tomb := map[string]any{"id": testURLs.object("creer-sa-premiere-adresse-email"), "type": "Tombstone", "slug": "creer-sa-premiere-adresse-email"}
	del, err := activity("Delete", testURLs.activity("delete", "0002"), testURLs.actor(), tomb, to, cc)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "delete", del)
	peer := "https://hub-b.example/actor"
	fol, err := activity("Follow", "https://hub-b.example/activities/follow/0003", peer, testURLs.actor(), []string{testURLs.actor()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "follow", fol)
	followDoc := map[string]any{"id": "https://hub-b.example/activities/follow/0003", "type": "Follow", "actor": peer, "object": testURLs.actor()}
	acc, err := activity("Accept", testURLs.activity("accept", "0004"), testURLs.actor(), followDoc, []string{peer}, nil)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "accept", acc)
}

// TestResourceRoundTrip: what one Communs node sends, another reads back
// as the same resource, with the files' digests; the hub is not read from
// the object (the receiver names it after the delivering actor).
func TestResourceRoundTrip(t *testing.T) {
	r := goldenResource()
	obj, err := resourceObject(testURLs, r)
	if err != nil {
		t.Fatal(err)
	}
	create, _ := activity("Create", testURLs.activity("create", r.ID), testURLs.actor(), obj, []string{asPublic}, nil)
	body, _ := json.Marshal(create)
	act, err := parseActivity(context.Background(), body)
	if err != nil {
		t.Fatalf("parse our own Create: %v", err)
	}
	got, files, err := parseResource(act.Object)
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != testURLs.object(r.ID) || got.Title != r.Title || got.Summary != r.Summary || got.Description != r.Description ||
		got.Kind != r.Kind || got.License != r.License || got.Level != r.Level || got.Hub != "" || got.Published != r.Published ||
		len(got.Themes) != 2 || len(got.Audience) != 1 || len(got.Authors) != 1 ||
		got.OrganisationName != r.OrganisationName || got.OrganisationURL != testURLs.base+"/organisations/atelier-mayennais" {
		t.Fatalf("round trip lost fields:\n got %+v\nwant %+v", got, r)
	}
	if len(files) != 1 || files[0].SHA256 != r.Files[0].SHA256 || files[0].Size != r.Files[0].Size || files[0].URL != testURLs.file(r.ID, r.Files[0].Name) {
		t.Fatalf("files: %+v", files)
	}
	if got.ID == r.ID || len(got.ID) > node.MaxIDLen || node.ValidateID(got.ID) != nil {
		t.Fatalf("remote id %q must be a valid id distinct from the origin's", got.ID)
	}
}

func nowUTC() time.Time { return time.Now().UTC() }

func testKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := loadOrCreateKey(filepath.Join(t.TempDir(), "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
