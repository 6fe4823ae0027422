package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/testnode"
)

// loginCookie logs b in as editor and returns the session cookie's value,
// as someone copying it from the browser would.
func loginCookie(t *testing.T, b *browser, password string) (string, string) {
	t.Helper()
	_, body := b.get("/connexion")
	resp, _ := b.postForm("/connexion", url.Values{"csrf": {csrfOf(t, body)}, "name": {"editor"}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "communs_session" {
			_, body = b.get("/editeur")
			return c.Value, csrfOf(t, body)
		}
	}
	t.Fatal("no session cookie after login")
	return "", ""
}

// editorWith requests the editor's home with only the given cookie.
func editorWith(t *testing.T, base, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/editeur", nil)
	req.AddCookie(&http.Cookie{Name: "communs_session", Value: cookie})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLogoutAndPasswordChangeEndSessions: a session cookie copied before a
// logout, or before a password change (`communs user passwd` reaches
// Service.SetPassword through the admin socket), is refused afterwards;
// before, it stayed valid for its twelve hours.
func TestLogoutAndPasswordChangeEndSessions(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	ctx := context.Background()
	if err := n.Service.SetPassword(ctx, "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, n.URL)
	copied, token := loginCookie(t, b, "un-mot-de-passe-solide")
	other, _ := loginCookie(t, newBrowser(t, n.URL), "un-mot-de-passe-solide")
	if got := editorWith(t, n.URL, copied); got != http.StatusOK {
		t.Fatalf("copied cookie before logout: %d, want 200", got)
	}
	resp, body := b.postForm("/deconnexion", url.Values{"csrf": {token}})
	wantStatus(t, "logout", resp, body, http.StatusSeeOther)
	if got := editorWith(t, n.URL, copied); got != http.StatusSeeOther {
		t.Fatalf("cookie copied before logout, used after: %d, want 303 to the login page", got)
	}
	// Documented choice: without a session table, logout ends the
	// account's sessions on every browser.
	if got := editorWith(t, n.URL, other); got != http.StatusSeeOther {
		t.Fatalf("other browser's session after logout: %d, want 303", got)
	}
	// Pages show the ended session as logged out, not as an editor.
	req, _ := http.NewRequest("GET", n.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: "communs_session", Value: copied})
	resp, body = b.do(req)
	wantStatus(t, "home page with an ended session", resp, body, http.StatusOK)
	wantNotIn(t, "home page with an ended session", body, "Se déconnecter")
	// A revoked cookie cannot log the editor out again (and so cannot end
	// the sessions opened since).
	fresh, _ := loginCookie(t, b, "un-mot-de-passe-solide")
	req, _ = http.NewRequest("POST", n.URL+"/deconnexion", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "communs_session", Value: copied})
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	if got := editorWith(t, n.URL, fresh); got != http.StatusOK {
		t.Fatalf("session opened after the logout, after a replayed logout with the old cookie: %d, want 200", got)
	}

	// Password change.
	if err := n.Service.SetPassword(ctx, "editor", "un-nouveau-mot-de-passe"); err != nil {
		t.Fatal(err)
	}
	if got := editorWith(t, n.URL, fresh); got != http.StatusSeeOther {
		t.Fatalf("cookie from before the password change: %d, want 303 to the login page", got)
	}
	after, _ := loginCookie(t, newBrowser(t, n.URL), "un-nouveau-mot-de-passe")
	if got := editorWith(t, n.URL, after); got != http.StatusOK {
		t.Fatalf("login with the new password: %d", got)
	}
}
