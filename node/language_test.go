package node

import "testing"

func TestISO6391(t *testing.T) {
	if len(iso6391) != 184 {
		t.Fatalf("%d codes, ISO 639-1 has 184", len(iso6391))
	}
	for code, want := range map[string]bool{"fr": true, "en": true, "br": true, "oc": true, "eu": true, "zz": false, "xx": false, "FR": false, "fra": false, "": false} {
		if IsLanguage(code) != want {
			t.Errorf("IsLanguage(%q) = %v, want %v", code, !want, want)
		}
	}
}
