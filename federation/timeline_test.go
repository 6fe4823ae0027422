package federation_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/internal/testnode"
	"github.com/communs-numerique/communs/node"
)

// timelinePost is what Mastodon 4 and GoToSocial 0.18 make of a received
// object, by their own rules:
//   - GoToSocial (internal/typeutils/astointernal.go ASStatusToStatus): the
//     content warning is summary, else name, on every object type; the
//     language is the contentMap key whose value equals content; a post
//     whose updated is not before its published is marked edited.
//   - Mastodon (app/lib/activitypub/activity/create.rb, parser/status_parser.rb):
//     a Note's text is content (else contentMap), its spoiler summary (else
//     summaryMap), its language the first contentMap key; a Page is
//     "converted" to its name and link; attachments become media, shown in
//     place of the link's preview card.
type timelinePost struct {
	gtsWarning, mastodonSpoiler string
	gtsEdited                   bool
	mastodonConverted           bool
	text                        string // content as plain text
	gtsLanguage, mastoLanguage  string
	hashtags                    []string
	attachments                 int
	cardLink                    string // the first link that is not a hashtag
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

func readAsTimeline(obj map[string]any) timelinePost {
	str := func(k string) string { s, _ := obj[k].(string); return s }
	firstOf := func(k string) (key, val string) {
		m, _ := obj[k].(map[string]any)
		for k, v := range m {
			s, _ := v.(string)
			return k, s
		}
		return "", ""
	}
	var p timelinePost
	p.gtsWarning = str("summary")
	if p.gtsWarning == "" {
		p.gtsWarning = str("name")
	}
	p.mastodonSpoiler = str("summary")
	if p.mastodonSpoiler == "" {
		_, p.mastodonSpoiler = firstOf("summaryMap")
	}
	if upd, err := time.Parse(time.RFC3339, str("updated")); err == nil {
		pub, _ := time.Parse(time.RFC3339, str("published"))
		p.gtsEdited = !upd.Before(pub)
	}
	switch str("type") {
	case "Image", "Audio", "Video", "Article", "Page", "Event":
		p.mastodonConverted = true
	}
	content := str("content")
	lang, mapped := firstOf("contentMap")
	if content == "" {
		content = mapped
	}
	if mapped == str("content") {
		p.gtsLanguage = lang
	}
	p.mastoLanguage = lang
	p.text = html.UnescapeString(tagRE.ReplaceAllString(strings.ReplaceAll(content, "</p>", "\n"), ""))
	tags, _ := obj["tag"].([]any)
	for _, t := range tags {
		if m, _ := t.(map[string]any); m["type"] == "Hashtag" {
			p.hashtags = append(p.hashtags, m["name"].(string))
		}
	}
	switch a := obj["attachment"].(type) {
	case []any:
		p.attachments = len(a)
	case map[string]any:
		p.attachments = 1
	}
	for _, m := range regexp.MustCompile(`<a [^>]*>`).FindAllString(content, -1) {
		if !strings.Contains(m, `rel="tag"`) {
			p.cardLink = regexp.MustCompile(`href="([^"]*)"`).FindStringSubmatch(m)[1]
			break
		}
	}
	return p
}

// TestFollowerTimelineShowsPlainPost: a Mastodon- or GoToSocial-like
// follower receives a new kit, then its update, as a plain post: no content
// warning (neither summary nor name), title then summary first in the
// text, the link to the kit as the preview card's link, its themes as
// hashtags, its language, and no file shown as unknown media.
func TestFollowerTimelineShowsPlainPost(t *testing.T) {
	hub := testnode.Start(t, testnode.Options{Federate: true, Hub: "hinaura"})
	acct := newFediAccount(t)
	var actor struct {
		PublicKey struct {
			PEM string `json:"publicKeyPem"`
		} `json:"publicKey"`
	}
	getJSON(t, hub.Fed.ActorURL(), &actor)
	pub, err := parsePEM(actor.PublicKey.PEM)
	if err != nil {
		t.Fatal(err)
	}
	acct.mu.Lock()
	acct.hubKey = pub
	acct.mu.Unlock()
	if got := acct.sendAs(t, hub.URL+"/inbox", map[string]any{"@context": "https://www.w3.org/ns/activitystreams", "id": acct.id + "#follows/1",
		"type": "Follow", "actor": acct.id, "object": hub.Fed.ActorURL()}, "hs2019"); got != http.StatusAccepted {
		t.Fatalf("Follow: status %d", got)
	}
	testenv.Eventually(t, 15*time.Second, "Accept delivered", func() bool { return len(acct.types()) == 1 })

	ctx := context.Background()
	kit := node.Resource{Metadata: node.Metadata{Title: "Kit d'atelier : arnaques en ligne", Summary: "Repérer un faux SMS & un faux site.",
		Kind: "workshop-kit", License: "CC-BY-SA-4.0", Language: "fr", Themes: []string{"cybersecurite", "premiers-pas"}}}
	stored, err := hub.Service.Publish(ctx, kit, func(yield func(node.Upload) error) error {
		return yield(node.Upload{Name: "deroule.pdf", MediaType: "application/pdf", Body: strings.NewReader("%PDF-1.7 déroulé"), Size: -1})
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "Create delivered", func() bool { return len(acct.types()) == 2 })
	newTitle := "Kit d'atelier : arnaques en ligne (2e édition)"
	if _, err := hub.Service.Update(ctx, stored.ID, node.Patch{Title: &newTitle}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "Update delivered", func() bool { return len(acct.types()) == 3 })

	acct.mu.Lock()
	received := acct.received[1:]
	acct.mu.Unlock()
	for i, title := range []string{kit.Title, newTitle} {
		act := received[i]
		obj, _ := act["object"].(map[string]any)
		p := readAsTimeline(obj)
		if want := []string{"Create", "Update"}[i]; act["type"] != want {
			t.Fatalf("activity %d is a %v, want %s", i, act["type"], want)
		}
		if p.gtsWarning != "" || p.mastodonSpoiler != "" {
			t.Errorf("%s: content warning %q (GoToSocial) / %q (Mastodon), want none", act["type"], p.gtsWarning, p.mastodonSpoiler)
		}
		if p.gtsEdited != (i == 1) {
			t.Errorf("%s: GoToSocial marks it edited: %v (published %v, updated %v)", act["type"], p.gtsEdited, obj["published"], obj["updated"])
		}
		if p.mastodonConverted {
			t.Errorf("%s: a %v, which Mastodon 4 shows as its name and link only", act["type"], obj["type"])
		}
		if want := title + "\n" + kit.Summary + "\n"; !strings.HasPrefix(p.text, want) {
			t.Errorf("%s: text %q does not open with the title then the summary", act["type"], p.text)
		}
		if p.gtsLanguage != "fr" || p.mastoLanguage != "fr" {
			t.Errorf("%s: language %q (GoToSocial) / %q (Mastodon), want fr", act["type"], p.gtsLanguage, p.mastoLanguage)
		}
		if strings.Join(p.hashtags, " ") != "#Cybersecurite #PremiersPas" || !strings.Contains(p.text, "#Cybersecurite #PremiersPas") {
			t.Errorf("%s: hashtags %v, text %q", act["type"], p.hashtags, p.text)
		}
		if p.attachments != 0 {
			t.Errorf("%s: %d attachments, shown as unknown media in place of the preview card", act["type"], p.attachments)
		}
		if link := hub.URL + "/r/" + stored.ID; p.cardLink != link || obj["url"] != link {
			t.Errorf("%s: preview card link %q, url %v, want %s", act["type"], p.cardLink, obj["url"], link)
		}
		if files, _ := obj["files"].([]any); len(files) != 1 {
			t.Errorf("%s: files %v, want the kit's PDF for Communs nodes", act["type"], obj["files"])
		}
	}
}
