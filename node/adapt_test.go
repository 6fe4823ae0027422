package node_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/node"
)

// TestLicenceMatrix: for each licence of the registry, whether it may be
// adapted and under which licences, as the licences' texts say
// (docs/LICENCES.md gives the source of each rule).
func TestLicenceMatrix(t *testing.T) {
	open := []string{"CC-BY-3.0-FR", "CC-BY-4.0", "CC-BY-SA-3.0-FR", "CC-BY-SA-4.0", "CC0-1.0", "GFDL-1.3-or-later", "LAL-1.3", "ODC-By-1.0", "ODbL-1.0", "PDDL-1.0", "etalab-2.0"}
	var all []string
	for _, l := range node.AllLicenses() {
		all = append(all, l.ID)
	}
	cases := map[string][]string{ // nil: NoDerivatives
		"CC0-1.0":           all,
		"PDDL-1.0":          all,
		"CC-BY-4.0":         open,
		"CC-BY-3.0-FR":      open,
		"etalab-2.0":        open,
		"ODC-By-1.0":        open,
		"CC-BY-SA-4.0":      {"CC-BY-SA-4.0", "LAL-1.3"},
		"CC-BY-SA-3.0-FR":   {"CC-BY-SA-3.0-FR", "CC-BY-SA-4.0"},
		"LAL-1.3":           {"CC-BY-SA-4.0", "LAL-1.3"},
		"ODbL-1.0":          {"ODbL-1.0"},
		"GFDL-1.3-or-later": {"GFDL-1.3-or-later"},
		"CC-BY-NC-4.0":      {"CC-BY-NC-4.0", "CC-BY-NC-SA-4.0"},
		"CC-BY-NC-SA-4.0":   {"CC-BY-NC-SA-4.0"},
		"CC-BY-ND-4.0":      nil,
		"CC-BY-NC-ND-4.0":   nil,
	}
	for _, from := range all {
		t.Run(from, func(t *testing.T) {
			want, ok := cases[from]
			if !ok {
				t.Fatalf("licence %s of the registry has no row in this test", from)
			}
			got, err := node.AdaptationLicences(from)
			if want == nil {
				var le *node.LicenceRuleError
				if !errors.As(err, &le) || !le.NoDerivatives || !errors.Is(err, node.ErrConflict) {
					t.Fatalf("AdaptationLicences(%s) = %v, %v; want a NoDerivatives refusal (ErrConflict)", from, got, err)
				}
				if !strings.Contains(err.Error(), "ne peut pas être adapté") || !strings.Contains(err.Error(), "cannot be adapted") {
					t.Errorf("refusal %q does not state the rule in French and English", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("AdaptationLicences(%s) = %v, %v; want %v", from, got, err, want)
			}
			for _, to := range all {
				err := node.CheckAdaptationLicence(from, to)
				if slices.Contains(want, to) {
					if err != nil {
						t.Errorf("%s -> %s refused: %v", from, to, err)
					}
					continue
				}
				var ve *node.ValidationError
				if !errors.Is(err, node.ErrInvalid) || !errors.As(err, &ve) || ve.Field != "license" || ve.Code != "license_incompatible" {
					t.Errorf("%s -> %s: %v; want a license_incompatible ValidationError", from, to, err)
				} else if !strings.Contains(err.Error(), "ne peut pas passer sous "+to) || !strings.Contains(err.Error(), "cannot take "+to) {
					t.Errorf("%s -> %s: %q does not name the rule in both languages", from, to, err)
				}
			}
		})
	}
	if len(cases) != len(all) {
		t.Errorf("the test has %d rows, the registry %d licences", len(cases), len(all))
	}
}

// TestLicenceDocMatchesRules parses the table of docs/LICENCES.md: every
// licence of the registry has one row whose columns say what the code
// does, with a source, so the doc and the rules cannot drift apart.
func TestLicenceDocMatchesRules(t *testing.T) {
	data, err := os.ReadFile("../docs/LICENCES.md")
	if err != nil {
		t.Fatal(err)
	}
	ticks := regexp.MustCompile("`([^`]+)`")
	rows := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(strings.Trim(line, "|"), "|")
		if len(cols) != 4 {
			t.Fatalf("row %q has %d columns, want 4", line, len(cols))
		}
		id := strings.Trim(strings.TrimSpace(cols[0]), "`")
		if _, dup := rows[id]; dup {
			t.Errorf("licence %s has two rows", id)
		}
		rows[id] = cols
	}
	for _, l := range node.AllLicenses() {
		cols, ok := rows[l.ID]
		if !ok {
			t.Errorf("docs/LICENCES.md has no row for %s", l.ID)
			continue
		}
		delete(rows, l.ID)
		allowed, err := node.AdaptationLicences(l.ID)
		docAllowed := strings.HasPrefix(strings.TrimSpace(cols[1]), "oui")
		if docAllowed != (err == nil) {
			t.Errorf("%s: the doc says adaptation %q, the code %v", l.ID, strings.TrimSpace(cols[1]), err)
		}
		var docTo []string
		for _, m := range ticks.FindAllStringSubmatch(cols[2], -1) {
			docTo = append(docTo, m[1])
		}
		slices.Sort(docTo)
		want := slices.Clone(allowed)
		slices.Sort(want)
		if !slices.Equal(docTo, want) {
			t.Errorf("%s: the doc lists %v, the code allows %v", l.ID, docTo, want)
		}
		if !strings.Contains(cols[3], "https://") {
			t.Errorf("%s: no source URL for the rule", l.ID)
		}
	}
	for id := range rows {
		t.Errorf("docs/LICENCES.md has a row for %s, which is not in the registry", id)
	}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func newAdaptService(t *testing.T, fetch node.Fetch) (*node.Service, func(string) int) {
	svc, refs, _ := newAdaptServiceBlobs(t, fetch)
	return svc, refs
}

// newAdaptServiceBlobs also returns whether a blob is stored.
func newAdaptServiceBlobs(t *testing.T, fetch node.Fetch) (*node.Service, func(string) int, func(string) bool) {
	t.Helper()
	cat, disk := testStores(t)
	pol, err := node.NewPolicy("CC-BY-ND-4.0", "CC-BY-NC-SA-4.0")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := node.New(node.Config{Catalog: cat, Accounts: cat, Organisations: cat, Blobs: disk, Policy: pol, Logger: quiet, Adaptations: cat})
	if err != nil {
		t.Fatal(err)
	}
	if fetch != nil {
		svc.SetFileFetcher(fetch)
	}
	for _, o := range []node.Organisation{{Slug: "tilleuls", Name: "Centre social Les Tilleuls"}, {Slug: "mediatheque", Name: "Médiathèque du Port"}} {
		if _, err := svc.AddOrganisation(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	refs := func(d string) int {
		n, err := cat.BlobRefs(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	stored := func(d string) bool {
		_, err := disk.Stat(context.Background(), d)
		return err == nil
	}
	return svc, refs, stored
}

const srcURL = "https://lens.example/r/"

// TestAdapt: an editor's adaptation is a new resource of their
// organisation with the source's metadata, its files shared by digest and
// the attribution chain; an adaptation of it lists the whole chain; the
// licence's rule binds later edits; ND refuses and creates nothing.
func TestAdapt(t *testing.T) {
	ctx := context.Background()
	svc, refs := newAdaptService(t, nil)
	alice := node.User{Name: "alice", Role: node.RoleEditor, Organisation: "tilleuls"}
	bob := node.User{Name: "bob", Role: node.RoleEditor, Organisation: "mediatheque"}
	as := node.WithActor
	body := []byte("%PDF-1.7 fiche séniors")
	src := kitMeta("kit-seniors")
	src.Authors = []string{"Awa Diallo"}
	files := func(yield func(node.Upload) error) error {
		return yield(node.Upload{Name: "fiche.pdf", Body: bytes.NewReader(body), Size: int64(len(body))})
	}
	if _, err := svc.Publish(as(ctx, alice), src, files, false); err != nil {
		t.Fatal(err)
	}
	opt := func(id string) node.AdaptOptions { return node.AdaptOptions{SourceURL: srcURL + id} }

	a, err := svc.Adapt(as(ctx, bob), "kit-seniors", node.AdaptOptions{Title: "Kit séniors (Gap)", SourceURL: srcURL + "kit-seniors"})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == "kit-seniors" || a.Title != "Kit séniors (Gap)" || a.Organisation != "mediatheque" || a.License != "CC-BY-SA-4.0" || !a.Local() {
		t.Fatalf("adaptation = %+v", a)
	}
	wantLink := node.Source{URL: srcURL + "kit-seniors", Title: "Kit kit-seniors", Hub: "local", Authors: []string{"Awa Diallo"}, License: "CC-BY-SA-4.0"}
	if len(a.BasedOn) != 1 || !sourceEqual(a.BasedOn[0], wantLink) {
		t.Fatalf("based_on = %+v, want [%+v]", a.BasedOn, wantLink)
	}
	if len(a.Files) != 1 || a.Files[0].SHA256 != sha(body) || refs(sha(body)) != 2 {
		t.Fatalf("files = %+v, refs %d: want the same blob referenced twice", a.Files, refs(sha(body)))
	}

	// An adaptation of the adaptation lists the whole chain.
	b, err := svc.Adapt(as(ctx, alice), a.ID, opt(a.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.BasedOn) != 2 || b.BasedOn[0].URL != srcURL+"kit-seniors" || b.BasedOn[1].URL != srcURL+a.ID || b.BasedOn[1].Title != "Kit séniors (Gap)" {
		t.Fatalf("chain = %+v", b.BasedOn)
	}

	// ShareAlike binds the licence: to an incompatible one is refused
	// (400, rule named), to a compatible one allowed.
	by := "CC-BY-4.0"
	_, err = svc.Update(as(ctx, bob), a.ID, node.Patch{License: &by})
	var ve *node.ValidationError
	if !errors.As(err, &ve) || ve.Field != "license" || !strings.Contains(err.Error(), "CC BY-SA 4.0") {
		t.Fatalf("licence change to CC-BY-4.0: %v; want a license ValidationError naming the rule", err)
	}
	lal := "LAL-1.3"
	if _, err := svc.Update(as(ctx, bob), a.ID, node.Patch{License: &lal}); err != nil {
		t.Fatalf("licence change to LAL-1.3 (compatible): %v", err)
	}
	// A re-publication keeps the chain and its rule.
	re := kitMeta(a.ID)
	re.License = "CC-BY-4.0"
	if _, err := svc.Publish(as(ctx, bob), re, nil, true); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("replace with an incompatible licence: %v, want ErrInvalid", err)
	}
	re.License = "CC-BY-SA-4.0"
	got, err := svc.Publish(as(ctx, bob), re, nil, true)
	if err != nil || len(got.BasedOn) != 1 {
		t.Fatalf("replace: %v, chain %+v; want the chain kept", err, got.BasedOn)
	}
	// An adaptation belongs to its editor's organisation: others may not
	// change it.
	if _, err := svc.Update(as(ctx, alice), a.ID, node.Patch{Title: &by}); !errors.Is(err, node.ErrForbidden) {
		t.Fatalf("alice changes bob's adaptation: %v, want ErrForbidden", err)
	}

	// NoDerivatives: 409 with the rule, nothing created.
	nd := kitMeta("kit-nd")
	nd.License = "CC-BY-ND-4.0"
	if _, err := svc.Publish(as(ctx, alice), nd, nil, false); err != nil {
		t.Fatal(err)
	}
	before, _ := svc.Count(ctx)
	_, err = svc.Adapt(as(ctx, bob), "kit-nd", opt("kit-nd"))
	if !errors.Is(err, node.ErrConflict) || !strings.Contains(err.Error(), "NoDerivatives") || !strings.Contains(err.Error(), "pas de modification") {
		t.Fatalf("adapt ND: %v; want ErrConflict stating the rule", err)
	}
	if after, _ := svc.Count(ctx); after != before {
		t.Fatalf("a refused adaptation changed the count: %d -> %d", before, after)
	}
	// Gone: 404.
	if _, err := svc.Adapt(as(ctx, bob), "absent", opt("absent")); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("adapt a missing resource: %v, want ErrNotFound", err)
	}
}

func sourceEqual(a, b node.Source) bool {
	return a.URL == b.URL && a.Title == b.Title && a.Hub == b.Hub && a.License == b.License && slices.Equal(a.Authors, b.Authors)
}

// TestAdaptLinkedFiles: a copy whose file the node only links to is
// adapted by fetching the file from its origin and checking its digest;
// an origin that fails or serves other bytes leaves nothing behind.
func TestAdaptLinkedFiles(t *testing.T) {
	ctx := context.Background()
	good := []byte("fiche d'origine, octets annoncés")
	var serve func() (io.ReadCloser, error)
	svc, refs, stored := newAdaptServiceBlobs(t, func(ctx context.Context, url string) (io.ReadCloser, error) { return serve() })
	copyRes := kitMeta("ignored")
	copyRes.ID = node.RemoteID("https://lens.example/r/kit-lens", "kit-lens")
	copyRes.Origin = "https://lens.example/r/kit-lens"
	c, err := svc.SaveRemote(ctx, copyRes, []node.RemoteFile{{Name: "fiche.pdf", Size: int64(len(good)), SHA256: sha(good), URL: "https://lens.example/r/kit-lens/files/fiche.pdf"}}, node.Mirror{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Files[0].SHA256 != "" {
		t.Fatal("the copy's file was mirrored; the test needs it linked")
	}
	bob := node.WithActor(ctx, node.User{Name: "bob", Role: node.RoleEditor, Organisation: "mediatheque"})
	for name, fn := range map[string]func() (io.ReadCloser, error){
		"origin down": func() (io.ReadCloser, error) { return nil, errors.New("connection refused") },
		"other bytes": func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("autre chose")), nil },
		"cut short":   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(good[:5])), nil },
	} {
		serve = fn
		before, _ := svc.Count(ctx)
		_, err := svc.Adapt(bob, c.ID, node.AdaptOptions{})
		if !errors.Is(err, node.ErrConflict) || !strings.Contains(err.Error(), "nothing was created") {
			t.Errorf("%s: %v; want ErrConflict saying nothing was created", name, err)
		}
		if after, _ := svc.Count(ctx); after != before {
			t.Errorf("%s: a resource was created", name)
		}
		if n := refs(sha(good)); n != 0 {
			t.Errorf("%s: %d references to the blob", name, n)
		}
	}
	// Two linked files, the second failing: the first, already fetched,
	// is not left referenced either.
	other := []byte("deuxième fiche")
	two := copyRes
	two.ID, two.Origin = node.RemoteID("https://lens.example/r/kit-two", "kit-two"), "https://lens.example/r/kit-two"
	c2, err := svc.SaveRemote(ctx, two, []node.RemoteFile{
		{Name: "a.pdf", Size: int64(len(other)), SHA256: sha(other), URL: "https://lens.example/r/kit-two/files/a.pdf"},
		{Name: "b.pdf", Size: int64(len(good)), SHA256: sha(good), URL: "https://lens.example/r/kit-two/files/b.pdf"},
	}, node.Mirror{})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	serve = func() (io.ReadCloser, error) {
		if calls++; calls == 1 {
			return io.NopCloser(bytes.NewReader(other)), nil
		}
		return nil, errors.New("timeout")
	}
	if _, err := svc.Adapt(bob, c2.ID, node.AdaptOptions{}); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("second file failing: %v, want ErrConflict", err)
	}
	if n := refs(sha(other)); n != 0 || calls != 2 || stored(sha(other)) {
		t.Fatalf("after a failed adaptation: %d references to the first file's blob, stored %v (%d fetches); want none left", n, stored(sha(other)), calls)
	}

	serve = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(good)), nil }
	a, err := svc.Adapt(bob, c.ID, node.AdaptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Files[0].SHA256 != sha(good) || a.Files[0].RemoteURL != "" || refs(sha(good)) != 1 {
		t.Fatalf("file = %+v; want the verified bytes stored here", a.Files[0])
	}
	if len(a.BasedOn) != 1 || a.BasedOn[0].URL != "https://lens.example/r/kit-lens" {
		t.Fatalf("chain = %+v; want the origin's object id", a.BasedOn)
	}
	r, br, err := openFile(svc, a.ID, "fiche.pdf")
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if got, _ := io.ReadAll(br); !bytes.Equal(got, good) || r.ID != a.ID {
		t.Fatalf("stored bytes %q", got)
	}
}

func openFile(svc *node.Service, id, name string) (node.Resource, node.BlobReader, error) {
	r, _, br, err := svc.OpenFile(context.Background(), id, name)
	return r, br, err
}

// TestAdaptationRefs: the list of adaptations other hubs told of is kept
// per local resource, bounded text, removed only by the hub that sent it.
func TestAdaptationRefs(t *testing.T) {
	ctx := context.Background()
	svc, _ := newAdaptService(t, nil)
	if _, err := svc.Create(ctx, kitMeta("kit-a")); err != nil {
		t.Fatal(err)
	}
	gap := node.Adaptation{URL: "https://gap.example/r/kit-gap", Title: "Kit Gap", Hub: "gap@gap.example", Actor: "https://gap.example/actor"}
	if err := svc.ReceiveAdaptation(ctx, "kit-a", gap); err != nil {
		t.Fatal(err)
	}
	bad := gap
	bad.URL, bad.Title = "https://evil.example/x", "ligne\nbrisée"
	if err := svc.ReceiveAdaptation(ctx, "kit-a", bad); !errors.Is(err, node.ErrInvalid) {
		t.Fatalf("a title with a line break: %v, want ErrInvalid", err)
	}
	if err := svc.RemoveAdaptation(ctx, gap.URL, "https://evil.example/actor"); err != nil {
		t.Fatal(err)
	}
	as, _ := svc.AdaptationsOf(ctx, "kit-a")
	if len(as) != 1 || as[0].Title != "Kit Gap" {
		t.Fatalf("after another hub's removal: %+v; want it kept", as)
	}
	if err := svc.RemoveAdaptation(ctx, gap.URL, gap.Actor); err != nil {
		t.Fatal(err)
	}
	if as, _ := svc.AdaptationsOf(ctx, "kit-a"); len(as) != 0 {
		t.Fatalf("after its hub's removal: %+v", as)
	}
	// One hub may list at most MaxAdaptationsPerHub adaptations of a kit.
	for i := range node.MaxAdaptationsPerHub + 1 {
		a := gap
		a.URL = fmt.Sprintf("https://gap.example/r/kit-%d", i)
		err := svc.ReceiveAdaptation(ctx, "kit-a", a)
		if i < node.MaxAdaptationsPerHub && err != nil {
			t.Fatalf("notice %d: %v", i, err)
		}
		if i == node.MaxAdaptationsPerHub && !errors.Is(err, node.ErrTooMany) {
			t.Fatalf("notice beyond the per-hub bound: %v, want ErrTooMany", err)
		}
	}
	for i := range node.MaxAdaptationsPerHub {
		if err := svc.RemoveAdaptation(ctx, fmt.Sprintf("https://gap.example/r/kit-%d", i), gap.Actor); err != nil {
			t.Fatal(err)
		}
	}
	// A deleted resource's list goes with it: a new kit under its id
	// does not inherit it.
	if err := svc.ReceiveAdaptation(ctx, "kit-a", gap); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, "kit-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, kitMeta("kit-a")); err != nil {
		t.Fatal(err)
	}
	if as, _ := svc.AdaptationsOf(ctx, "kit-a"); len(as) != 0 {
		t.Fatalf("a new kit-a inherited %+v", as)
	}
}

// TestLocalAdaptationListedOnItsSource: an adaptation of this hub's own kit
// is listed on that kit, as another hub's notice would be (no federation
// notice goes to the node itself), and leaves the list when deleted; an
// adaptation of it does not leave another entry's list.
func TestLocalAdaptationListedOnItsSource(t *testing.T) {
	ctx := context.Background()
	svc, _ := newAdaptService(t, nil)
	alice := node.User{Name: "alice", Role: node.RoleEditor, Organisation: "tilleuls"}
	bob := node.User{Name: "bob", Role: node.RoleEditor, Organisation: "mediatheque"}
	if _, err := svc.Publish(node.WithActor(ctx, alice), kitMeta("kit-seniors"), nil, false); err != nil {
		t.Fatal(err)
	}
	a, err := svc.Adapt(node.WithActor(ctx, bob), "kit-seniors", node.AdaptOptions{Title: "Kit séniors (Port)", SourceURL: srcURL + "kit-seniors"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.Adapt(node.WithActor(ctx, alice), "kit-seniors", node.AdaptOptions{Title: "Kit séniors (Tilleuls)", SourceURL: srcURL + "kit-seniors"})
	if err != nil {
		t.Fatal(err)
	}
	list, err := svc.AdaptationsOf(ctx, "kit-seniors")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].URL != srcURL+a.ID || list[0].Title != "Kit séniors (Port)" || list[1].URL != srcURL+b.ID {
		t.Fatalf("source's adaptations = %+v, want %s then %s", list, a.ID, b.ID)
	}
	if err := svc.Delete(node.WithActor(ctx, bob), a.ID); err != nil {
		t.Fatal(err)
	}
	list, _ = svc.AdaptationsOf(ctx, "kit-seniors")
	if len(list) != 1 || list[0].URL != srcURL+b.ID {
		t.Fatalf("after deleting %s: %+v, want only %s", a.ID, list, b.ID)
	}
}
