package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
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

// TestLoginThrottleHoldsUnderConcurrency: sixty wrong passwords and the
// right one sent at once get at most five password checks between them;
// the rest are refused with 429 without being checked. Before, every
// request passed the limit before any failure was recorded.
func TestLoginThrottleHoldsUnderConcurrency(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	if err := n.Service.SetPassword(context.Background(), "editor", "un-mot-de-passe-solide"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, n.URL)
	_, body := b.get("/connexion")
	token := csrfOf(t, body)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	for i := range 61 {
		pw := fmt.Sprintf("essai-%02d-faux", i)
		if i == 60 {
			pw = "un-mot-de-passe-solide"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", n.URL+"/connexion", strings.NewReader(url.Values{"csrf": {token}, "name": {"editor"}, "password": {pw}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, _ := b.do(req)
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	checked := statuses[http.StatusUnauthorized] + statuses[http.StatusSeeOther]
	if checked > 5 || statuses[http.StatusTooManyRequests] != 61-checked {
		t.Fatalf("61 parallel logins: statuses %v; want at most 5 checked (401 or 303), the rest 429", statuses)
	}
	if statuses[http.StatusSeeOther] == 0 {
		// The right password was not among the checked ones: it stays
		// refused for the window, as for a sequential attacker.
		req, _ := http.NewRequest("POST", n.URL+"/connexion", strings.NewReader(url.Values{"csrf": {token}, "name": {"editor"}, "password": {"un-mot-de-passe-solide"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, _ := b.do(req); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("right password after the burst: %d, want 429", resp.StatusCode)
		}
	}
}
