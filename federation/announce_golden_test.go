package federation

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/communs-numerique/communs/federation/state"
)

// TestGoldenAnnounce pins the Announce a share sends (actor: this hub,
// object: the origin's object id, to the followers, cc Public: what
// Mastodon and GoToSocial show as a boost) and its Undo; both parse back
// as activities this node acts on.
func TestGoldenAnnounce(t *testing.T) {
	f := &Federation{urls: testURLs}
	object := "https://hub-b.example/r/creer-sa-premiere-adresse-email"
	at := time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)
	ann, err := f.announceActivity(testURLs.activity("announce", "0005"), object, at)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "announce", ann)
	undo, err := f.undoAnnounceActivity(testURLs.activity("undo", "0006"), state.Share{Object: object, Activity: testURLs.activity("announce", "0005")})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "undo-announce", undo)
	for name, act := range map[string]map[string]any{"announce": ann, "undo": undo} {
		body, _ := json.Marshal(act)
		in, err := parseActivity(context.Background(), body)
		if err != nil {
			t.Fatalf("parse our own %s: %v", name, err)
		}
		if name == "announce" && (in.Type != "Announce" || in.ObjectID != object || in.Actor != testURLs.actor()) {
			t.Errorf("announce read back as %+v", in)
		}
		if name == "undo" && (in.Object["type"] != "Announce" || idOf(in.Object["object"]) != object) {
			t.Errorf("undo read back as %+v", in)
		}
	}
}

func TestFirstID(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"https://a.example/actor", "https://a.example/actor"},
		{map[string]any{"id": "https://a.example/actor", "type": "Organization"}, "https://a.example/actor"},
		{[]any{"", map[string]any{"type": "Person"}, "https://a.example/actor", "https://b.example/actor"}, "https://a.example/actor"},
		{[]any{}, ""},
		{42.0, ""},
		{nil, ""},
	} {
		if got := firstID(tc.in); got != tc.want {
			t.Errorf("firstID(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
