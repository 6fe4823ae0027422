package federation

import "testing"

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
