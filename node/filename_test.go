package node_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/communs-numerique/communs/node"
)

// TestValidateFileNameRefusesMisleadingNames: names that show something
// else than what they are (bidi controls, zero-width characters, look-alike
// slashes), that Windows cannot save (device names, trailing dots) or that
// the kit zip writes itself are refused with the rule named.
func TestValidateFileNameRefusesMisleadingNames(t *testing.T) {
	for _, tc := range []struct {
		name, rule string
	}{
		{"facture\u202Efdp.exe", "invisible formatting"}, // RIGHT-TO-LEFT OVERRIDE
		{"guide\u200B.pdf", "invisible formatting"},      // ZERO WIDTH SPACE
		{"guide\u200D.pdf", "invisible formatting"},      // ZERO WIDTH JOINER
		{"\uFEFFguide.pdf", "invisible formatting"},      // BOM
		{"guide\u2066.pdf", "invisible formatting"},      // LEFT-TO-RIGHT ISOLATE
		{"guide\u00AD.pdf", "invisible formatting"},      // SOFT HYPHEN
		{"rapport\u2215..\u2215passwd", "look like /"},
		{"a\u2044b.pdf", "look like /"},
		{"a\uFF0Fb.pdf", "look like /"},
		{"a\u29F8b.pdf", "look like /"},
		{"a\uFF3Cb.pdf", "look like /"},
		{"a\uFE68b.pdf", "look like /"},
		{"a\u2216b.pdf", "look like /"},
		{"CON", "Windows reserves"},
		{"con.txt", "Windows reserves"},
		{"Nul.tar.gz", "Windows reserves"},
		{"aux", "Windows reserves"},
		{"PRN.pdf", "Windows reserves"},
		{"com1.pdf", "Windows reserves"},
		{"LPT9", "Windows reserves"},
		{"lpt¹.txt", "Windows reserves"},
		{"CON .txt", "Windows reserves"},
		{"guide.pdf.", "end with a dot"},
		{"guide.", "end with a dot"},
		{"guide.pdf ", "spaces"},
		{"guide.pdf\u00A0", "spaces"},
		{"LICENCE.txt", "LICENCE.txt is reserved"},
		{"licence.TXT", "LICENCE.txt is reserved"},
		{"ＬＩＣＥＮＣＥ.txt", "LICENCE.txt is reserved"},
		{"Resource.JSON", "resource.json is reserved"},
		{"../../evil.pdf", "must not contain /"},
		{`..\evil.pdf`, "must not contain /"},
	} {
		err := node.ValidateFileName(tc.name)
		var ve *node.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Rule, tc.rule) {
			t.Errorf("%q: got %v, want a validation error about %q", tc.name, err, tc.rule)
		}
	}
	for _, ok := range []string{
		"guide.pdf", "Fiche pratique – été 2024.pdf", "résumé (v2).odt", "console.pdf", "CONTRAT.pdf",
		"com10.txt", "lpt.txt", "auxiliaire.md", "nul-part.png", "licence-cc-by.txt", "LICENCE.md",
		"日本語.pdf", "مرحبا.pdf", "a.b.c", "1/2"[:1] + ".pdf",
	} {
		if err := node.ValidateFileName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
}

// TestFilesDifferingOnlyByCaseAreRefused: a resource cannot hold two files
// that a zip or a Windows or macOS folder would merge, whether they come in
// one publish or one after the other.
func TestFilesDifferingOnlyByCaseAreRefused(t *testing.T) {
	ctx := context.Background()
	svc := remoteService(t)
	r := node.Resource{ID: "fiche-casse", Metadata: node.Metadata{Title: "Fiche", Kind: "practical-sheet", License: "CC0-1.0"}}
	files := func(names ...string) node.Uploads {
		return func(yield func(node.Upload) error) error {
			for _, n := range names {
				if err := yield(node.Upload{Name: n, Body: strings.NewReader("x " + n), Size: -1}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	_, err := svc.Publish(ctx, r, files("Guide.pdf", "guide.PDF"), false)
	if !errors.Is(err, node.ErrInvalid) || !strings.Contains(err.Error(), "differ only by case") {
		t.Fatalf("publish with two names differing by case: %v", err)
	}
	if _, err := svc.Get(ctx, r.ID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("a refused publish must store nothing: %v", err)
	}
	if _, err := svc.Publish(ctx, r, files("guide.pdf"), false); err != nil {
		t.Fatal(err)
	}
	_, err = svc.PutFile(ctx, r.ID, node.Upload{Name: "GUIDE.pdf", Body: strings.NewReader("y"), Size: -1})
	if !errors.Is(err, node.ErrInvalid) || !strings.Contains(err.Error(), "differ only by case") {
		t.Fatalf("PUT of a name differing by case from a stored file: %v", err)
	}
	// The same name replaces the file, as before.
	if _, err := svc.PutFile(ctx, r.ID, node.Upload{Name: "guide.pdf", Body: strings.NewReader("z"), Size: -1}); err != nil {
		t.Fatalf("PUT of the same name: %v", err)
	}
	got, _ := svc.Get(ctx, r.ID)
	if len(got.Files) != 1 || got.Files[0].Name != "guide.pdf" || got.Files[0].Size != 1 {
		t.Fatalf("files after the refused PUT: %+v", got.Files)
	}
	if err := node.CheckFileNamesDistinct([]string{"ｇuide.pdf", "guide.pdf"}); err == nil {
		t.Fatal("fullwidth and ASCII forms of one name must collide")
	}
}

func FuzzValidateFileName(f *testing.F) {
	for _, s := range []string{"guide.pdf", "CON.txt", "a\u202Eb", "LICENCE.txt", "a\u2215b", "été.odt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if node.ValidateFileName(name) != nil {
			return
		}
		// An accepted name is one path component that shows what it is.
		if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
			t.Fatalf("accepted %q", name)
		}
		for _, c := range name {
			if c < 0x20 || c == 0x7f || (c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) {
				t.Fatalf("accepted %q with U+%04X", name, c)
			}
		}
		if k := node.FileNameKey(name); k == node.FileNameKey("licence.txt") || k == node.FileNameKey("resource.json") {
			t.Fatalf("accepted the reserved %q", name)
		}
	})
}
