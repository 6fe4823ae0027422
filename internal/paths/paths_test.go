package paths

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile ids and names: what a remote hub or an upload could carry. Dot
// segments ("..") and '/' are left out: ServeMux cleans the unescaped path
// (so "/r/%2F/files/x" is redirected), and the node refuses them in ids
// and names (node.ValidateID, node.ValidateFileName).
var hostile = []string{"kit-atelier", "a b", "été", "a#b", "a?b", "100%", "x.zip", "a+b&c=d", "ü%20"}

// TestBuildersMatchTheirRoute serves every route pattern on a real
// ServeMux and checks that each builder's output reaches the pattern of the
// same route with its wildcards intact, for hostile ids and names.
func TestBuildersMatchTheirRoute(t *testing.T) {
	type hit struct{ pattern, id, name string }
	var got hit
	mux := http.NewServeMux()
	for _, p := range []string{"GET " + Resource, "GET " + File, "GET " + APIResource, "PUT " + APIResourceFile,
		"GET " + APIResources, "GET " + API, "GET " + Actor, "POST " + Inbox, "POST " + SharedInbox,
		"GET " + Outbox, "GET " + Followers, "GET " + Following, "GET " + Context, "GET " + Logo, "GET " + Banner,
		"GET " + OAI, "GET " + Catalogue, "GET " + Feed, "GET " + Sitemap, "GET " + SitemapPart, "GET " + NodeInfo, "GET /{$}",
		"GET " + Organisation, "GET " + OrganisationEN, "GET " + APIOrganisation} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			got = hit{r.Pattern, r.PathValue("id"), r.PathValue("name")}
		})
	}
	serve := func(method, u string) hit {
		t.Helper()
		got = hit{}
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, u, nil))
		return got
	}
	b := Base("https://hub.example")
	for _, id := range hostile {
		if h := serve("GET", b.Resource(id)); h != (hit{"GET " + Resource, id, ""}) {
			t.Errorf("Resource(%q) = %s reached %+v", id, b.Resource(id), h)
		}
		// The archive shares the resource pattern; its id ends in .zip.
		if h := serve("GET", b.Zip(id)); h != (hit{"GET " + Resource, id + ZipSuffix, ""}) || !IsDownload(ZipPath(id)) {
			t.Errorf("Zip(%q) = %s reached %+v", id, b.Zip(id), h)
		}
		if h := serve("GET", b.URL(APIResourcePath(id))); h != (hit{"GET " + APIResource, id, ""}) {
			t.Errorf("APIResourcePath(%q) reached %+v", id, h)
		}
		for _, name := range hostile {
			if h := serve("GET", b.File(id, name)); h != (hit{"GET " + File, id, name}) || !IsDownload(FilePath(id, name)) {
				t.Errorf("File(%q, %q) = %s reached %+v", id, name, b.File(id, name), h)
			}
			if h := serve("PUT", b.URL(APIFilePath(id, name))); h != (hit{"PUT " + APIResourceFile, id, name}) {
				t.Errorf("APIFilePath(%q, %q) reached %+v", id, name, h)
			}
		}
	}
	for _, c := range []struct{ method, url, pattern string }{
		{"GET", b.Actor(), "GET " + Actor},
		{"POST", b.Inbox(), "POST " + Inbox},
		{"POST", b.SharedInbox(), "POST " + SharedInbox},
		{"GET", b.Outbox(), "GET " + Outbox},
		{"GET", b.Followers(), "GET " + Followers},
		{"GET", b.Following(), "GET " + Following},
		{"GET", b.URL(Context), "GET " + Context},
		{"GET", b.URL(Logo), "GET " + Logo},
		{"GET", b.URL(Banner), "GET " + Banner},
		{"GET", b.URL(OAI), "GET " + OAI},
		{"GET", b.URL(Catalogue), "GET " + Catalogue},
		{"GET", b.URL(Feed), "GET " + Feed},
		{"GET", b.URL(Sitemap), "GET " + Sitemap},
		{"GET", b.URL(SitemapPart) + "?partie=accueil", "GET " + SitemapPart},
		{"GET", b.URL(NodeInfo), "GET " + NodeInfo},
		{"GET", b.URL(APIResources), "GET " + APIResources},
		{"GET", b.URL(APILicenses), "GET " + API},
		{"GET", b.URL(Home), "GET /{$}"},
		{"GET", b.Organisation("centre-social"), "GET " + Organisation},
		{"GET", b.URL(APIOrganisationPath("centre-social")), "GET " + APIOrganisation},
		{"GET", b.URL("/organizations/centre-social"), "GET " + OrganisationEN},
	} {
		if h := serve(c.method, c.url); h.pattern != c.pattern {
			t.Errorf("%s %s reached %q, want %q", c.method, c.url, h.pattern, c.pattern)
		}
	}
}

// TestBuilderOutputs pins the addresses for special characters: these are
// federated object ids and links in harvested records, so a change here
// changes what peers and harvesters have stored.
func TestBuilderOutputs(t *testing.T) {
	b := Base("https://hub.example")
	for _, c := range []struct{ got, want string }{
		{b.Resource("kit-atelier"), "https://hub.example/r/kit-atelier"},
		{b.Zip("kit-atelier"), "https://hub.example/r/kit-atelier.zip"},
		{b.File("kit-atelier", "guide.pdf"), "https://hub.example/r/kit-atelier/files/guide.pdf"},
		{b.File("kit", "mon guide.pdf"), "https://hub.example/r/kit/files/mon%20guide.pdf"},
		{b.File("kit", "été.odt"), "https://hub.example/r/kit/files/%C3%A9t%C3%A9.odt"},
		{b.File("kit", "a#b?c"), "https://hub.example/r/kit/files/a%23b%3Fc"},
		{b.File("kit", "100%.txt"), "https://hub.example/r/kit/files/100%25.txt"},
		{b.File("kit", "a/b"), "https://hub.example/r/kit/files/a%2Fb"},
		{b.Resource("a b#?%é"), "https://hub.example/r/a%20b%23%3F%25%C3%A9"},
		{APIFilePath("kit", "a b.pdf"), "/api/v1/resources/kit/files/a%20b.pdf"},
		{APIResourcePath("kit"), "/api/v1/resources/kit"},
		{b.Activity("follow", "abc123"), "https://hub.example/activities/follow/abc123"},
		{b.Actor(), "https://hub.example/actor"},
		{b.ActorKey(), "https://hub.example/actor#main-key"},
		{b.Inbox(), "https://hub.example/actor/inbox"},
		{b.SharedInbox(), "https://hub.example/inbox"},
		{b.Outbox(), "https://hub.example/actor/outbox"},
		{b.Followers(), "https://hub.example/actor/followers"},
		{b.Following(), "https://hub.example/actor/following"},
		{b.URL(Context), "https://hub.example/ns/communs"},
		{b.URL(Logo), "https://hub.example/media/logo"},
		{b.URL(OAI), "https://hub.example/oai"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func TestIsDownload(t *testing.T) {
	for p, want := range map[string]bool{
		"/r/kit/files/a.pdf": true, "/r/kit.zip": true, "/r/kit": false, "/": false,
		"/api/v1/resources/kit/files/a": false, "/ressources": false,
		"/collections/parcours.zip": true, "/collections/parcours": false, "/collections": false,
	} {
		if IsDownload(p) != want {
			t.Errorf("IsDownload(%q) = %v", p, !want)
		}
	}
}

// FuzzFileRoundTrip: whatever the id and name (dot segments aside, see
// hostile), the file address reaches the file route with both intact.
func FuzzFileRoundTrip(f *testing.F) {
	for _, s := range hostile {
		f.Add(s, s)
	}
	var id, name string
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+File, func(w http.ResponseWriter, r *http.Request) {
		id, name = r.PathValue("id"), r.PathValue("name")
	})
	f.Fuzz(func(t *testing.T, wantID, wantName string) {
		if wantID == "" || wantName == "" || wantID == "." || wantID == ".." || wantName == "." || wantName == ".." ||
			strings.Contains(wantID+wantName, "/") ||
			!utf8.ValidString(wantID) || !utf8.ValidString(wantName) {
			return
		}
		id, name = "", ""
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://hub.example"+FilePath(wantID, wantName), nil))
		if id != wantID || name != wantName {
			t.Fatalf("FilePath(%q, %q) = %s came back as %q, %q", wantID, wantName, FilePath(wantID, wantName), id, name)
		}
	})
}

// TestCollectionBuilders: a collection's page, zip and API addresses reach
// their routes with the id intact.
func TestCollectionBuilders(t *testing.T) {
	var got string
	mux := http.NewServeMux()
	for _, p := range []string{"GET " + Collection, "GET " + APICollection, "GET " + Collections} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { got = r.Pattern + " " + r.PathValue("id") })
	}
	b := Base("https://hub.example")
	for _, id := range hostile {
		for _, c := range []struct{ url, want string }{
			{b.Collection(id), "GET " + Collection + " " + id},
			{b.CollectionZip(id), "GET " + Collection + " " + id + ZipSuffix},
			{b.URL(APICollectionPath(id)), "GET " + APICollection + " " + id},
		} {
			got = ""
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", c.url, nil))
			if got != c.want {
				t.Errorf("%s reached %q, want %q", c.url, got, c.want)
			}
		}
	}
	if b.Collection("parcours-e-mail") != "https://hub.example/collections/parcours-e-mail" {
		t.Errorf("Collection: %s", b.Collection("parcours-e-mail"))
	}
}
