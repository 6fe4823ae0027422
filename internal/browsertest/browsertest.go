// Package browsertest drives a real headless Chromium (Debian's package)
// through chromedp for the web UI's browser tests, and runs axe-core in it
// for accessibility checks. `make test-deps` installs both; in CI, or with
// COMMUNS_BROWSER_TESTS=1, a missing browser or axe-core fails the test
// instead of skipping it.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// AxeVersion is the axe-core release `make test-deps` installs from npm.
const AxeVersion = "4.14.1"

// required reports whether missing tools must fail the test: in CI and
// under `make test` they are installed, so their absence is a bug.
func required() bool {
	return os.Getenv("CI") != "" || os.Getenv("COMMUNS_BROWSER_TESTS") != ""
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (run `make test-deps`)"
	if required() {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED, NOT PASSED: " + msg)
}

// ChromiumPath finds the browser: $COMMUNS_CHROMIUM, /usr/bin/chromium, or
// chromium on the PATH.
func ChromiumPath() string {
	if p := os.Getenv("COMMUNS_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	p, _ := exec.LookPath("chromium")
	return p
}

// AxePath finds axe.min.js: $COMMUNS_AXE, else where `make test-deps` puts it.
func AxePath() string {
	if p := os.Getenv("COMMUNS_AXE"); p != "" {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	return filepath.Join(gopath, "communs-test", "axe-"+AxeVersion, "node_modules", "axe-core", "axe.min.js")
}

// Browser is one Chromium process with a fresh profile, stopped and removed
// when the test ends.
type Browser struct {
	t         testing.TB
	alloc     context.Context
	Ctx       context.Context // the first tab
	Downloads string
	shots     string
}

// New starts Chromium. Each test gets its own profile folder, so cookies,
// cache and downloads never leak between tests.
func New(t testing.TB) *Browser {
	t.Helper()
	path := ChromiumPath()
	if path == "" {
		missing(t, "chromium is not installed")
	}
	if _, err := os.Stat(path); err != nil {
		missing(t, "chromium at %s: %v", path, err)
	}
	profile, err := os.MkdirTemp("", "communs-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.DisableGPU,
		chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		// A French mediator's browser: the UI negotiates its language.
		chromedp.Flag("lang", "fr-FR"),
		chromedp.Flag("accept-lang", "fr-FR,fr"),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	b := &Browser{t: t, alloc: alloc, Ctx: ctx, Downloads: t.TempDir()}
	b.shots = os.Getenv("COMMUNS_SCREENSHOTS")
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
		// Chromium's helpers may still write in the profile for a moment
		// after the browser exits.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.Downloads, EventsEnabled: ptr(true)})
		return err
	})); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// Tab opens a new tab in the same browser (same cookies), closed with the test.
func (b *Browser) Tab(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.Ctx)
	t.Cleanup(cancel)
	// The first action on a context opens its tab and ties the tab's life
	// to the context it is given: open it here, on the tab's own context,
	// not on the per-step timeout context of Do and Run.
	if err := chromedp.Do(ctx, chromedp.Func(func(context.Context, *chromedp.Target) error { return nil })); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// Do runs actions with a time limit, failing the test on error.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Run runs one action that returns a value, failing the test on error.
func Run[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// Navigating runs an action that makes the page load another URL (a key
// press or a click that submits) and waits for the new page.
func Navigating(t testing.TB, ctx context.Context, what string, step chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, step); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Screenshot saves the visible part of the page as name.png in the test's
// screenshot folder and returns its path.
func (b *Browser) Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	png := Run(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	return b.save(t, name, png)
}

func (b *Browser) save(t testing.TB, name string, png []byte) string {
	t.Helper()
	p := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	t.Logf("screenshot %s", p)
	return p
}

// ScreenshotAt saves a viewport screenshot at a given width into dir
// (phone and desktop captures for the documentation).
func ScreenshotAt(t testing.TB, ctx context.Context, dir, name string, width, height int64, mobile bool) string {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	Do(t, ctx, "viewport", chromedp.EmulateViewport(width, height, opts...))
	png := Run(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatalf("save screenshot: %v", err)
	}
	return p
}

// WaitDownload clicks what trigger selects and waits for Chromium to finish
// the download; it returns the file's path on disk.
func (b *Browser) WaitDownload(t testing.TB, ctx context.Context, trigger chromedp.Action[chromedp.Void]) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	begin := chromedp.BrowserEvents(ctx, browser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx, trigger); err != nil {
		t.Fatalf("start download: %v", err)
	}
	var name string
	for ev, err := range begin {
		if err != nil {
			t.Fatalf("download did not start: %v", err)
		}
		name = ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download did not finish: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(b.Downloads, ev.GUID), name
		case browser.DownloadProgressStateCanceled:
			t.Fatalf("download %s canceled", name)
		}
	}
	t.Fatalf("download %s: no end event", name)
	return "", ""
}

// Violation is one axe-core rule a page breaks.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

func (v Violation) String() string {
	var where []string
	for i, n := range v.Nodes {
		if i == 3 {
			where = append(where, fmt.Sprintf("... %d more", len(v.Nodes)-3))
			break
		}
		where = append(where, fmt.Sprintf("%v %s", n.Target, n.HTML))
	}
	return fmt.Sprintf("%s (%s): %s\n    %s", v.ID, v.Impact, v.Help, strings.Join(where, "\n    "))
}

// Axe runs axe-core on the current page for WCAG 2.1 A and AA and returns
// the violations. The script is injected over the DevTools protocol, which
// the page's Content-Security-Policy does not govern.
func Axe(t testing.TB, ctx context.Context) []Violation {
	t.Helper()
	path := AxePath()
	src, err := os.ReadFile(path)
	if err != nil {
		missing(t, "axe-core %s not found at %s: %v", AxeVersion, path, err)
	}
	Run(t, ctx, "inject axe-core", chromedp.Evaluate[bool](string(src)+";true"))
	out := Run(t, ctx, "run axe-core", chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
	var vs []Violation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("axe-core result: %v", err)
	}
	return vs
}

// NoCache makes the tab fetch everything afresh, so a page weight is the
// one a first visit pays.
func NoCache(t testing.TB, ctx context.Context) {
	t.Helper()
	Do(t, ctx, "disable the cache", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	}))
}

// PageWeight is what the browser transferred for the current page: the
// document plus every sub-resource, headers included, as the Resource
// Timing API counts it.
func PageWeight(t testing.TB, ctx context.Context) int {
	t.Helper()
	return Run(t, ctx, "page weight", chromedp.Evaluate[int](`(() => {
		const nav = performance.getEntriesByType("navigation")[0];
		let total = nav ? nav.transferSize : 0;
		for (const r of performance.getEntriesByType("resource")) total += r.transferSize;
		return total;
	})()`))
}
