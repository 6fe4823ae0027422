package federation

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/federation/state"
	"github.com/communs-numerique/communs/node"
)

// TestHostOf: the spellings DNS treats as one host compare equal, so a
// block or a same-host check cannot be dodged by writing the name another
// way.
func TestHostOf(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"https://Evil.Example/actor", "https://evil.example/x"},
		{"https://evil.example./actor", "https://evil.example/x"},
		{"https://évil.example/actor", "https://xn--vil-9la.example/x"},
		{"http://127.0.0.1.:8081/actor", "http://127.0.0.1:8081/x"},
		{"http://[::1]:8081/actor", "http://[::1]:8081/x"},
	} {
		if hostOf(c.a) != hostOf(c.b) || hostOf(c.a) == "" {
			t.Errorf("hostOf(%q) = %q, hostOf(%q) = %q: want the same host", c.a, hostOf(c.a), c.b, hostOf(c.b))
		}
	}
	if hostOf("https://a.example/x") == hostOf("https://b.example/x") {
		t.Error("distinct hosts compare equal")
	}
}

func TestFollowDomain(t *testing.T) {
	for host, want := range map[string]string{
		"a.evil.example":       "evil.example",
		"b.evil.example:8443":  "evil.example",
		"hub.sud.gouv.fr":      "sud.gouv.fr", // gouv.fr is a public suffix
		"mastodon.social":      "mastodon.social",
		"127.0.0.5:3000":       "127.0.0.5",
		"[::1]:3000":           "::1",
		"localhost:8080":       "localhost",
		"social.example.co.uk": "example.co.uk",
	} {
		if got := followDomain(host); got != want {
			t.Errorf("followDomain(%s) = %s, want %s", host, got, want)
		}
	}
}

// TestHubName: a peer's hub name is its username, with its host when the
// name is taken (this node's own, another peer's), always a valid slug.
func TestHubName(t *testing.T) {
	for _, c := range []struct {
		handle, host string
		taken        []string
		want         string
	}{
		{"hub-du-sud@sud.example", "sud.example", nil, "hub-du-sud"},
		{"Hub_Du_Sud@sud.example", "sud.example", nil, "hub-du-sud"},
		{"hub-r@evil.example", "evil.example", []string{"hub-r"}, "hub-r-evil-example"},
		{"hub-r@127.0.0.1:8081", "127.0.0.1:8081", []string{"hub-r"}, "hub-r-127-0-0-1-8081"},
		{"hub-r@evil.example", "evil.example", []string{"hub-r", "hub-r-evil-example"}, "hub-r-evil-example-2"},
		{"@sud.example", "sud.example", nil, "sud-example"},
		{"Привет@x.example", "x.example", nil, "x-example"},
		{strings.Repeat("a", 80) + "@x.example", "x.example", []string{strings.Repeat("a", 56)}, strings.Repeat("a", 50) + "-x-example"},
	} {
		taken := map[string]bool{}
		for _, h := range c.taken {
			taken[h] = true
		}
		got := hubName(state.Peer{Handle: c.handle, Host: c.host}, taken)
		if got != c.want {
			t.Errorf("hubName(%s, taken %v) = %q, want %q", c.handle, c.taken, got, c.want)
		}
		r := node.Resource{ID: "x", Metadata: node.Metadata{Title: "x", Kind: "tutorial", License: "CC0-1.0", Language: "fr", Level: "debutant", Hub: got}}
		if err := r.Validate(); err != nil {
			t.Errorf("hubName(%s) = %q: not a valid hub: %v", c.handle, got, err)
		}
	}
}

// TestUnhandledActivity: an activity type nobody handles is an explicit
// "unhandled activity" error, at the inbox (400) and in the worker, which
// discards it quietly instead of taking it for applied.
func TestUnhandledActivity(t *testing.T) {
	body := []byte(`{"@context":"https://www.w3.org/ns/activitystreams","id":"https://a.example/like/1","type":"Like","actor":"https://a.example/actor","object":"https://b.example/r/x"}`)
	f := &Federation{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := f.apply(context.Background(), state.InboxItem{Seq: 1, ID: "https://a.example/like/1", Actor: "https://a.example/actor", Body: body})
	if !errors.Is(err, errUnhandled) || !strings.Contains(err.Error(), `unhandled activity "Like"`) {
		t.Fatalf("apply(Like) = %v, want an unhandled activity error", err)
	}
}

func TestNextLink(t *testing.T) {
	for _, tc := range []struct{ header, want string }{
		{`<https://a.example/actor/outbox?page=1&after=x>; rel="next"`, "https://a.example/actor/outbox?page=1&after=x"},
		{`<https://a.example/p1>; rel="prev", <https://a.example/p3>; rel=next`, "https://a.example/p3"},
		{`<https://a.example/p1>; rel="prev"`, ""},
		{`https://a.example/p3; rel="next"`, ""},
		{`<https://a.example/p3>`, ""},
		{``, ""},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Link", tc.header)
		}
		if got := nextLink(h); got != tc.want {
			t.Errorf("nextLink(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}
