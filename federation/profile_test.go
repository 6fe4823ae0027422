package federation

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestResourceIsAPlainPost: Mastodon (on a Note) and GoToSocial (on every
// type) show an AS2 summary as a content warning that hides the post. A kit
// goes out without one: its content opens with the title, then the
// summary, the link and the themes as hashtag links; contentMap carries the
// language; sensitive is false.
func TestResourceIsAPlainPost(t *testing.T) {
	r := goldenResource()
	obj, err := resourceObject(testURLs, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obj["summary"]; ok {
		t.Errorf("object carries an AS2 summary, shown as a content warning: %v", obj["summary"])
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
	if obj["sensitive"] != false || obj["abstract"] != r.Summary || obj["name"] != r.Title {
		t.Errorf("sensitive %v, abstract %v, name %v", obj["sensitive"], obj["abstract"], obj["name"])
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
