package federation

import (
	"strings"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/internal/text"
)

// samePost says whether plainStart gives what a post shows of md: the
// whole plain text when it is short, else its first n bytes.
func samePost(md string, n int) (string, string, bool) {
	full, start := text.PlainText(md), plainStart(md, n)
	if len(full) <= n {
		return start, full, start == full
	}
	return start, full, len(start) > n && strings.HasPrefix(full, start)
}

// TestPlainStart: on the corpus's descriptions, repeated to be long, and
// on Markdown whose lines matter (lists, links, emphasis, blank lines),
// plainStart starts like the whole plain text.
func TestPlainStart(t *testing.T) {
	mds := []string{"", "court", strings.Repeat("**Objectifs** : [lien](https://x.example) _animer_\n- point\n\n1. un\n# Titre\n> cité\n", 200),
		strings.Repeat("mot ", 3000), strings.Repeat("ligne\r\n", 2000), strings.Repeat("\n", 5000) + "fin",
		strings.Repeat("a", 2001) + "\n" + strings.Repeat("b ", 400)}
	for _, r := range corpus.MustLoad(t) {
		mds = append(mds, r.Description, strings.Repeat(r.Description+"\n", 20))
	}
	for _, md := range mds {
		for _, n := range []int{1, 10, 500} {
			if got, full, ok := samePost(md, n); !ok {
				t.Fatalf("n=%d md %.80q:\n got %.200q\nfull %.200q", n, md, got, full)
			}
		}
	}
}

func FuzzPlainStart(f *testing.F) {
	f.Add("**Objectifs**\n- un [lien](https://x.example)\n\n12) douze\n", 5)
	f.Add(strings.Repeat("mot _x_ ", 100)+"\n"+strings.Repeat("# t\n", 50), 40)
	f.Fuzz(func(t *testing.T, md string, n int) {
		if n < 1 || n > 2000 {
			return
		}
		if got, full, ok := samePost(md, n); !ok {
			t.Fatalf("n=%d: got %q, full %q", n, got, full)
		}
	})
}
