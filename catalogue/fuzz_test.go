package catalogue

import "testing"

// FuzzParsePage: any query string gives a page from 1 or a reason, never
// a panic, and the reason quotes at most a short part of the input (40
// bytes, quoted: at most 4 characters each).
func FuzzParsePage(f *testing.F) {
	for _, s := range []string{"", "page=1", "page=0", "page=-3", "page=abc", "page=1&page=2", "page=%ZZ", "page=99999999999999999999", "x=1&page=7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		n, err := parsePage(q)
		if err != nil {
			if n != 0 || len(err.Error()) > 300 {
				t.Fatalf("%q: %d, %v", q, n, err)
			}
			return
		}
		if n < 1 || n > 1<<24 {
			t.Fatalf("%q: page %d accepted", q, n)
		}
	})
}
