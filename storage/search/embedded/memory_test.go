package embedded

import (
	"context"
	"runtime"
	"testing"

	"github.com/communs-numerique/communs/internal/corpus"
	"github.com/communs-numerique/communs/node"
)

// TestTypoAutomataMemoryIsBounded sends many distinct long words, as a
// crawler or a hostile client would: the typo automata kept for reuse must
// stay within their budget instead of growing with the number of words.
func TestTypoAutomataMemoryIsBounded(t *testing.T) {
	x := open(t)
	ctx := context.Background()
	if err := x.Upsert(ctx, corpus.MustLoad(t)[:20]); err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const words = 150
	for i := range words {
		// 12 letters: long enough for two typos, distinct every time.
		w := "mediationnu" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, err := x.Search(ctx, node.Query{Text: w}); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heap()) - int64(before)
	if limit := int64(dfaCacheBytes + 16<<20); grown > limit {
		t.Fatalf("heap grew by %d MiB after %d distinct words; want at most %d MiB", grown>>20, words, limit>>20)
	}
	t.Logf("heap grew by %d MiB after %d distinct words", grown>>20, words)
}
