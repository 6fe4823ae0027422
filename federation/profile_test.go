package federation

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestResourceIsAPlainPost: Mastodon (on a Note) and GoToSocial (on every
// type, falling back to the name) show an AS2 summary as a content warning
// that hides the post, and Mastodon 4 shows a Page as its name and link. A
// kit goes out as a Note without either: its content opens with the title,
// then the summary, the link and the themes as hashtag links; contentMap
// carries the language; sensitive is false; the files are no AS2
// attachments (unknown media in place of the link's preview card).
func TestResourceIsAPlainPost(t *testing.T) {
	r := goldenResource()
	obj, err := resourceObject(testURLs, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"summary", "summaryMap", "name", "nameMap", "attachment"} {
		if _, ok := obj[k]; ok {
			t.Errorf("object carries an AS2 %s (a content warning or unknown media elsewhere): %v", k, obj[k])
		}
	}
	if obj["type"] != "Note" {
		t.Errorf("type %v, want Note (Mastodon 4 shows a Page as its name and link only)", obj["type"])
	}
	content, _ := obj["content"].(string)
	if !strings.HasPrefix(content, "<p><strong>Créer sa première adresse e-mail</strong></p><p>Tutoriel pas à pas") {
		t.Errorf("content does not open with the title then the summary: %s", content)
	}
	for _, want := range []string{`<a href="` + testURLs.object(r.ID) + `">`,
		`<a href="https://hub-a.example/recherche?theme=messagerie" class="mention hashtag" rel="tag">#<span>Messagerie</span></a>`,
		`#<span>PremiersPas</span>`} {
		if !strings.Contains(content, want) {
			t.Errorf("content lacks %s:\n%s", want, content)
		}
	}
	cm, _ := obj["contentMap"].(map[string]any)
	if cm["fr"] != content {
		t.Errorf("contentMap %v, want {fr: content}", obj["contentMap"])
	}
	if obj["sensitive"] != false || obj["abstract"] != r.Summary || obj["title"] != r.Title {
		t.Errorf("sensitive %v, abstract %v, title %v", obj["sensitive"], obj["abstract"], obj["title"])
	}
	if files, _ := obj["files"].([]any); len(files) != 1 {
		t.Errorf("files %v, want the kit's file for Communs nodes", obj["files"])
	}
	// A title with markup stays text.
	r.Title = `<script>x</script> & co`
	obj, _ = resourceObject(testURLs, r)
	if c := obj["content"].(string); !strings.HasPrefix(c, "<p><strong>&lt;script&gt;x&lt;/script&gt; &amp; co</strong></p>") {
		t.Errorf("title not escaped: %s", c)
	}
}

// TestParseOlderNodeSummary: a node of the previous version sends the
// summary as an HTML-escaped AS2 summary and no abstract; it still arrives.
func TestParseOlderNodeSummary(t *testing.T) {
	obj, err := resourceObject(testURLs, goldenResource())
	if err != nil {
		t.Fatal(err)
	}
	delete(obj, "abstract")
	delete(obj, "contentMap")
	obj["summary"] = "Tutoriel pas à pas pour choisir un fournisseur &amp; créer une adresse &lt;sûre&gt;."
	create, _ := activity("Create", testURLs.activity("create", "x"), testURLs.actor(), obj, []string{asPublic}, nil)
	body, _ := json.Marshal(create)
	act, err := parseActivity(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := parseResource(act.Object)
	if err != nil {
		t.Fatal(err)
	}
	if got.Summary != goldenResource().Summary || got.Title != goldenResource().Title {
		t.Fatalf("older node's object: summary %q title %q", got.Summary, got.Title)
	}
}

// TestActorProfile: the actor has an avatar, a header, profile rows and
// its discoverability; a website that is not an http(s) URL is left out
// rather than rendered as a link.
func TestActorProfile(t *testing.T) {
	doc, err := actorDoc(testURLs, "conumm", "Hub", "", "PEM", false, Profile{Website: "javascript:alert(1)", Region: "<b>Bretagne</b>"})
	if err != nil {
		t.Fatal(err)
	}
	if doc["discoverable"] != false || doc["indexable"] != false {
		t.Errorf("discoverable %v indexable %v, want false", doc["discoverable"], doc["indexable"])
	}
	if _, ok := doc["icon"]; ok {
		t.Error("icon without a URL")
	}
	att, _ := doc["attachment"].([]any)
	if len(att) != 1 || att[0].(map[string]any)["value"] != "&lt;b&gt;Bretagne&lt;/b&gt;" {
		t.Errorf("profile rows %v: want the escaped region only", att)
	}
}
