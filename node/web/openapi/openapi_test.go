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
