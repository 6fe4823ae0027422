package federation

import (
	"context"
	"testing"
)

// FuzzParseActivity feeds arbitrary bodies to the inbox parser and the
// resource reader: they must refuse, never panic.
func FuzzParseActivity(f *testing.F) {
	for _, seed := range []string{
		`{"id":"https://a.example/1","type":"Follow","actor":"https://a.example/actor","object":"https://b.example/actor"}`,
		`{"id":"https://a.example/2","type":"Create","actor":"https://a.example/actor","object":{"id":"https://a.example/r/x","type":"Page","name":"x","attachment":[{"name":"a.pdf","url":"https://a.example/f","size":3,"digest":"sha-256:00"}]}}`,
		`{"id":"https://a.example/4","type":"Create","actor":"https://a.example/actor","object":{"id":"https://a.example/r/y","type":"Note","title":"y","dateModified":"2026-01-02T03:04:05Z","files":[{"name":"a.pdf","url":"https://a.example/f","size":3,"digest":"sha-256:00"}]}}`,
		`{"id":"https://a.example/3","type":"Delete","actor":"https://a.example/actor","object":{"id":"https://a.example/r/x","type":"Tombstone"}}`,
		`{"type":"Undo","actor":{"id":1},"object":[]}`,
		`[]`, `null`, `{"@context":{"@vocab":5}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		act, err := parseActivity(context.Background(), body)
		if err != nil {
			return
		}
		if act.ID == "" || act.Actor == "" || act.ObjectID == "" {
			t.Fatalf("accepted an activity without id, actor or object: %+v", act)
		}
		if act.Object != nil {
			_, _, _ = parseResource(act.Object)
		}
	})
}
