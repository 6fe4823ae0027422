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
