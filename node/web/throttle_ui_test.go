package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
)

// TestLoginThrottled: after five wrong passwords an account's logins are
// refused for a while, even with the right password, with a message that
// says what to do; other accounts are not affected.
func TestLoginThrottled(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	ctx := context.Background()
	if err := n.Service.SetPassword(ctx, "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Service.AddUser(ctx, "camille", "editor"); err != nil {
		t.Fatal(err)
	}
	if err := n.Service.SetPassword(ctx, "camille", "un-autre-mot-de-passe"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, n.URL)
	_, body := b.get("/connexion")
	token := csrfOf(t, body)
	login := func(name, pw string) (*http.Response, string) {
		return b.postForm("/connexion", url.Values{"csrf": {token}, "name": {name}, "password": {pw}})
	}
	for i := range 5 {
		if resp, body := login("editor", "essai-"+strings.Repeat("x", i)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d\n%s", i, resp.StatusCode, body)
		}
	}
	resp, body := login("Editor", "un-mot-de-passe-solide")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "Réessayez dans 15 minutes") {
		t.Fatalf("sixth try, right password: %d %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp, _ := login("camille", "un-autre-mot-de-passe"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("another account must still log in: %d", resp.StatusCode)
	}
}
