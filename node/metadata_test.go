package node

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
)

// TestPatchCoversMetadata keeps Patch, which cannot embed Metadata (its
// fields are pointers so that nil means "keep"), in step with Metadata: a
// field added to Metadata must be patchable under the same JSON name.
func TestPatchCoversMetadata(t *testing.T) {
	type field struct{ Name, Tag string }
	fields := func(typ reflect.Type, deref bool) []field {
		var out []field
		for f := range typ.Fields() {
			ft := f.Type
			if deref {
				if ft.Kind() != reflect.Pointer {
					t.Errorf("Patch.%s is %s, want a pointer so that nil keeps the value", f.Name, ft)
					continue
				}
				ft = ft.Elem()
			}
			out = append(out, field{f.Name + " " + ft.String(), f.Tag.Get("json")})
		}
		return out
	}
	meta := fields(reflect.TypeFor[Metadata](), false)
	patch := fields(reflect.TypeFor[Patch](), true)
	if !slices.Equal(meta, patch) {
		t.Errorf("Patch fields differ from Metadata fields:\nMetadata: %v\nPatch:    %v", meta, patch)
	}
}

// TestResourceJSONKeys pins the key order of a resource as stored and
// served: Metadata is embedded where its fields used to be declared, and
// encoding/json flattens it there.
func TestResourceJSONKeys(t *testing.T) {
	want := []string{"id", "title", "summary", "description", "kind", "themes", "audience", "level",
		"license", "language", "authors", "hub", "published", "organisation", "created", "updated", "files", "origin", "created_by", "organisation_name", "organisation_url", "version"}
	data, err := json.Marshal(Resource{ID: "x", Origin: "https://example.org/r/x", Metadata: Metadata{Organisation: "o"}, CreatedBy: "u", OrganisationName: "O", OrganisationURL: "https://example.org/organisations/o", Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, key.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Resource JSON keys = %v, want %v", got, want)
	}
}
