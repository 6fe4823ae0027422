package openapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestForServer: only the servers entry changes, and the result is JSON.
func TestForServer(t *testing.T) {
	const public = `https://communs.example/"hub"`
	out, err := ForServer(public)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("served document is not JSON: %v", err)
	}
	if err := json.Unmarshal(Document(), &want); err != nil {
		t.Fatalf("embedded document is not JSON: %v", err)
	}
	servers, _ := got["servers"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["url"] != public {
		t.Fatalf("servers = %v, want the public URL %s", got["servers"], public)
	}
	delete(got, "servers")
	delete(want, "servers")
	if !reflect.DeepEqual(got, want) {
		t.Fatal("ForServer changed more than the servers entry")
	}
}

// FuzzReplaceTopLevel: whatever the input, replaceTopLevel either refuses
// it or returns a JSON object whose member is the new value.
func FuzzReplaceTopLevel(f *testing.F) {
	f.Add([]byte(`{"a": 1, "servers": [], "b": {"c": [1, 2]}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[1]`))
	f.Add([]byte(`{"servers": 1`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		out, err := replaceTopLevel(doc, "servers", json.RawMessage(`[{"url":"https://x.example"}]`))
		if err != nil {
			return
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			if json.Valid(doc) {
				t.Fatalf("valid input %q gave invalid output %q: %v", doc, out, err)
			}
			return
		}
		if string(got["servers"]) != `[{"url":"https://x.example"}]` && json.Valid(doc) {
			t.Fatalf("servers not replaced in %q: %q", doc, out)
		}
	})
}
