package federation_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/communs-numerique/communs/federation"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/web"
)

// TestActorPicturesAnswer: the avatar and header the actor names are served
// by the node at those URLs, as PNG images drawn from the hub's name when
// the admin gave none, so Mastodon and GoToSocial never show a blank
// account.
func TestActorPicturesAnswer(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	brand := web.NewBrand("Hub Île-de-France", nil, nil)
	pages := web.New(n.Service, web.Options{PublicURL: base, Name: "Hub Île-de-France", Brand: &brand})
	fed, err := federation.New(federation.Config{PublicURL: base, Username: "idf", Name: "Hub Île-de-France", Service: n.Service,
		Store: n.Catalog, Feed: n.Catalog, DataDir: t.TempDir(), Dev: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Profile: federation.Profile{IconURL: base + web.LogoPath, IconType: brand.Logo.Type, ImageURL: base + web.BannerPath,
			ImageType: brand.Banner.Type, Region: "Île-de-France", Discoverable: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = fed.Handler(pages.Handler())
	srv.Start()
	t.Cleanup(srv.Close)

	req, _ := http.NewRequest("GET", base+"/actor", nil)
	req.Header.Set("Accept", "application/activity+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var actor struct {
		Icon, Image struct {
			URL, MediaType string
		}
		Discoverable bool
	}
	json.NewDecoder(resp.Body).Decode(&actor)
	resp.Body.Close()
	if !actor.Discoverable {
		t.Error("actor not discoverable")
	}
	for name, pic := range map[string]struct{ URL, MediaType string }{"icon": actor.Icon, "image": actor.Image} {
		if pic.URL == "" || pic.MediaType != "image/png" {
			t.Fatalf("actor %s: %+v", name, pic)
		}
		resp, err := http.Get(pic.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
			t.Fatalf("%s %s: %d %s", name, pic.URL, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		img, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s is not a PNG: %v", name, err)
		}
		t.Logf("%s: %v, %d bytes", name, img.Bounds().Size(), len(body))
	}
}
