package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/communs-numerique/communs/internal/app"
	"github.com/communs-numerique/communs/internal/testenv"
	"github.com/communs-numerique/communs/node"
)

// gtsPassword is the test account's password: GoToSocial refuses weak ones.
const gtsPassword = "Interop-Communs-2026-mot-de-passe!"

// TestGoToSocialTimeline runs a real GoToSocial (v0.18.3, built by `make
// interop`) on loopback next to a Communs node served over HTTPS with a
// self-signed certificate (GoToSocial looks actors up over https only; it
// is told to skip verification and to allow loopback addresses). A
// GoToSocial account follows the hub; the hub publishes a kit, then edits
// its title; the account's home timeline, read through GoToSocial's client
// API, must show a plain post: no content warning, the title first, the
// language, the themes as tags, the link to the kit, no unknown media, from
// an account with the hub's avatar.
func TestGoToSocialTimeline(t *testing.T) {
	if os.Getenv("COMMUNS_INTEROP") == "" {
		t.Skip("interop test against a real GoToSocial: run `make interop` (builds GoToSocial v0.18.3 once, 10+ minutes)")
	}
	gtsDir := os.Getenv("COMMUNS_GOTOSOCIAL_DIR")
	if gtsDir == "" {
		t.Fatal("COMMUNS_GOTOSOCIAL_DIR is not set: run `make interop`")
	}
	if _, err := os.Stat(filepath.Join(gtsDir, "gotosocial")); err != nil {
		t.Fatalf("no GoToSocial binary in %s (run `make interop`): %v", gtsDir, err)
	}
	ctx := context.Background()

	// The Communs node, on https://localhost:PORT.
	hub := startHub(t)

	// GoToSocial, on http://127.0.0.1:PORT.
	gts := startGoToSocial(t, gtsDir)
	token := gts.login(t)

	// The account follows the hub (auto-accepted).
	handle := "@interop@" + strings.TrimPrefix(hub.url, "https://")
	var found struct {
		Accounts []gtsAccount `json:"accounts"`
	}
	gts.api(t, token, http.MethodGet, "/api/v2/search?resolve=true&type=accounts&q="+url.QueryEscape(handle), nil, &found)
	if len(found.Accounts) != 1 {
		t.Fatalf("GoToSocial found %d accounts for %s, want the hub", len(found.Accounts), handle)
	}
	hubAcct := found.Accounts[0]
	gts.api(t, token, http.MethodPost, "/api/v1/accounts/"+hubAcct.ID+"/follow", nil, nil)
	testenv.Eventually(t, 60*time.Second, "GoToSocial follows the hub", func() bool {
		var rel []struct {
			Following bool `json:"following"`
		}
		gts.api(t, token, http.MethodGet, "/api/v1/accounts/relationships?id[]="+hubAcct.ID, nil, &rel)
		return len(rel) == 1 && rel[0].Following
	})

	// The hub publishes a kit with a file.
	kit := node.Resource{Metadata: node.Metadata{Title: "Kit d'atelier : repérer les arnaques en ligne",
		Summary:     "Un atelier de deux heures pour reconnaître un faux SMS & un faux site.",
		Description: "**Déroulé**\n- Tour de table\n- Exercices sur téléphone",
		Kind:        "workshop-kit", License: "CC-BY-SA-4.0", Language: "fr", Level: "debutant",
		Themes: []string{"cybersecurite", "premiers-pas"}}}
	stored, err := hub.app.Service.Publish(ctx, kit, func(yield func(node.Upload) error) error {
		return yield(node.Upload{Name: "deroule.pdf", MediaType: "application/pdf", Body: strings.NewReader("%PDF-1.7 déroulé de l'atelier"), Size: -1})
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	kitURL := hub.url + "/r/" + stored.ID

	var status gtsStatus
	testenv.Eventually(t, 120*time.Second, "the kit in the home timeline", func() bool {
		var home []gtsStatus
		gts.api(t, token, http.MethodGet, "/api/v1/timelines/home", nil, &home)
		for _, s := range home {
			if s.URL == kitURL {
				status = s
				return true
			}
		}
		return false
	})
	checkPlainPost(t, "new kit", status, kit.Title, kit, kitURL)
	if status.EditedAt != nil {
		t.Errorf("new kit: shown as edited at %s", *status.EditedAt)
	}

	// The hub's avatar is processed in the background.
	testenv.Eventually(t, 60*time.Second, "the hub's avatar", func() bool {
		var a gtsAccount
		gts.api(t, token, http.MethodGet, "/api/v1/accounts/"+hubAcct.ID, nil, &a)
		hubAcct = a
		return a.Avatar != "" && !strings.Contains(a.Avatar, "/default_avatars/")
	})
	t.Logf("hub account as GoToSocial shows it: acct %s, display_name %q, avatar %s, header %s, %d fields, note %q",
		hubAcct.Acct, hubAcct.DisplayName, hubAcct.Avatar, hubAcct.Header, len(hubAcct.Fields), hubAcct.Note)

	// The kit is edited: the post is edited in place.
	newTitle := "Kit d'atelier : repérer les arnaques en ligne (2e édition)"
	if _, err := hub.app.Service.Update(ctx, stored.ID, node.Patch{Title: &newTitle}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 120*time.Second, "the edit reaches GoToSocial", func() bool {
		gts.api(t, token, http.MethodGet, "/api/v1/statuses/"+status.ID, nil, &status)
		return strings.HasPrefix(plain(status.Content), newTitle)
	})
	checkPlainPost(t, "edited kit", status, newTitle, kit, kitURL)
	if status.EditedAt == nil {
		t.Error("edited kit: not shown as edited")
	}
}

type gtsAccount struct {
	ID          string `json:"id"`
	Acct        string `json:"acct"`
	DisplayName string `json:"display_name"`
	Note        string `json:"note"`
	Avatar      string `json:"avatar"`
	Header      string `json:"header"`
	Fields      []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"fields"`
}

type gtsStatus struct {
	ID          string          `json:"id"`
	URL         string          `json:"url"`
	URI         string          `json:"uri"`
	Content     string          `json:"content"`
	SpoilerText string          `json:"spoiler_text"`
	Sensitive   bool            `json:"sensitive"`
	Language    *string         `json:"language"`
	Visibility  string          `json:"visibility"`
	EditedAt    *string         `json:"edited_at"`
	Card        json.RawMessage `json:"card"`
	Media       []any           `json:"media_attachments"`
	Tags        []struct {
		Name string `json:"name"`
	} `json:"tags"`
	Account gtsAccount `json:"account"`
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// plain is a status's content as the text a reader sees.
func plain(content string) string {
	return strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(strings.ReplaceAll(content, "</p>", "\n"), "")))
}

func checkPlainPost(t *testing.T, what string, s gtsStatus, title string, kit node.Resource, kitURL string) {
	t.Helper()
	raw, _ := json.MarshalIndent(s, "", "  ")
	t.Logf("%s, as GoToSocial's API shows it:\n%s", what, raw)
	text := plain(s.Content)
	if s.SpoilerText != "" || s.Sensitive {
		t.Errorf("%s: content warning %q (sensitive %v), want none", what, s.SpoilerText, s.Sensitive)
	}
	if want := title + "\n" + kit.Summary; !strings.HasPrefix(text, want) {
		t.Errorf("%s: text %q does not open with the title then the summary", what, text)
	}
	if !strings.Contains(s.Content, `href="`+kitURL+`"`) {
		t.Errorf("%s: no link to %s in %s", what, kitURL, s.Content)
	}
	if s.Language == nil || *s.Language != "fr" {
		t.Errorf("%s: language %v, want fr", what, s.Language)
	}
	var tags []string
	for _, tg := range s.Tags {
		tags = append(tags, strings.ToLower(tg.Name))
	}
	if strings.Join(tags, " ") != "cybersecurite premierspas" {
		t.Errorf("%s: tags %v, want cybersecurite premierspas", what, tags)
	}
	if len(s.Media) != 0 {
		t.Errorf("%s: %d media attachments (the kit's files shown as unknown media)", what, len(s.Media))
	}
	if s.Visibility != "public" {
		t.Errorf("%s: visibility %q, want public", what, s.Visibility)
	}
}

// hubNode is the Communs node under test.
type hubNode struct {
	url string
	app *app.Node
}

func startHub(t *testing.T) *hubNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	publicURL := "https://localhost:" + port
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("COMMUNS_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// DevFederation lets the node deliver to GoToSocial over plain HTTP on
	// loopback; its own URL is https, as on a real hub.
	a, err := app.Open(context.Background(), app.Config{Data: t.TempDir(), PublicURL: publicURL, Hub: "interop", Name: "Hub Interop",
		Description: "Hub de test d'interopérabilité", Region: "Bretagne", Website: "https://www.example.org/",
		Storage: "disk", NoSearch: true, Logger: log, Version: "interop", Discoverable: true,
		DevFederation: true, RetryBase: 200 * time.Millisecond, MaxFollowersPerHost: 16})
	if err != nil {
		ln.Close()
		t.Fatalf("open node: %v", err)
	}
	// httptest's certificate is self-signed (for 127.0.0.1 and example.com):
	// GoToSocial runs with http-client.tls-insecure-skip-verify.
	srv := httptest.NewUnstartedServer(a.PublicHandler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.StartTLS()
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &hubNode{url: publicURL, app: a}
}

// goToSocial is a GoToSocial server run by the test.
type goToSocial struct {
	base   string
	config string
	dir    string
	bin    string
	log    *testenv.LogBuffer
}

func startGoToSocial(t *testing.T, gtsDir string) *goToSocial {
	t.Helper()
	_, port, _ := net.SplitHostPort(testenv.FreeAddr(t))
	dir := t.TempDir()
	g := &goToSocial{base: "http://127.0.0.1:" + port, dir: dir, bin: filepath.Join(gtsDir, "gotosocial"),
		config: filepath.Join(dir, "config.yaml"), log: &testenv.LogBuffer{}}
	cfg := fmt.Sprintf(`host: "127.0.0.1:%[1]s"
protocol: "http"
bind-address: "127.0.0.1"
port: %[1]s
db-type: "sqlite"
db-address: "%[2]s/sqlite.db"
storage-backend: "local"
storage-local-base-path: "%[2]s/storage"
web-template-base-dir: "%[3]s/web/template/"
web-asset-base-dir: "%[3]s/web/assets/"
letsencrypt-enabled: false
log-level: "info"
instance-languages: ["fr"]
advanced-rate-limit-requests: 0
advanced-throttling-multiplier: 0
http-client:
  allow-ips: ["127.0.0.0/8", "::1/128"]
  tls-insecure-skip-verify: true
`, port, dir, gtsDir)
	if err := os.WriteFile(g.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GTS_WAZERO_COMPILATION_CACHE="+filepath.Join(gtsDir, "wazero-cache"))
	run := func(args ...string) {
		cmd := exec.Command(g.bin, append([]string{"--config-path", g.config}, args...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gotosocial %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("admin", "account", "create", "--username", "marie", "--email", "marie@example.org", "--password", gtsPassword)
	run("admin", "account", "confirm", "--username", "marie")

	cmd := exec.Command(g.bin, "--config-path", g.config, "server", "start")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = g.log, g.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("GoToSocial's log (last 8 KiB):\n%s", tail(g.log.String(), 8<<10))
		}
	})
	testenv.Eventually(t, 5*time.Minute, "GoToSocial answers", func() bool {
		select {
		case <-done:
			t.Fatalf("GoToSocial stopped:\n%s", tail(g.log.String(), 8<<10))
		default:
		}
		// While it starts (wasm compilation, migrations) it answers 503.
		resp, err := http.Get(g.base + "/api/v1/instance")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return g
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// login goes through GoToSocial's OAuth flow as a client app would (app,
// authorize, sign in, authorize, token) and returns an access token.
func (g *goToSocial) login(t *testing.T) string {
	t.Helper()
	const redirect = "http://127.0.0.1:1/callback"
	var appResp struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	g.api(t, "", http.MethodPost, "/api/v1/apps", url.Values{"client_name": {"communs-interop"},
		"redirect_uris": {redirect}, "scopes": {"read write"}}, &appResp)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	step := func(method, path string, form url.Values) *http.Response {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, g.base+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	q := url.Values{"client_id": {appResp.ClientID}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"read write"}}
	step(http.MethodGet, "/oauth/authorize?"+q.Encode(), nil)
	if resp := step(http.MethodPost, "/auth/sign_in", url.Values{"username": {"marie@example.org"}, "password": {gtsPassword}}); resp.StatusCode != http.StatusFound {
		t.Fatalf("sign in: status %d", resp.StatusCode)
	}
	resp := step(http.MethodPost, "/oauth/authorize", url.Values{})
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	g.api(t, "", http.MethodPost, "/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {appResp.ClientID}, "client_secret": {appResp.ClientSecret}, "redirect_uri": {redirect}}, &tok)
	if tok.AccessToken == "" {
		t.Fatal("no access token")
	}
	return tok.AccessToken
}

// api calls GoToSocial's client API and decodes its JSON answer into out.
func (g *goToSocial) api(t *testing.T, token, method, path string, form url.Values, out any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, g.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d: %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}
