// Package openapi holds the OpenAPI 3.1 description of the node's JSON API
// and downloads. The document is a static file reviewed by people, embedded
// in the binary; a test in web compares its paths with the routes the
// server registers, and the API tests validate every request and answer
// against it (internal/apitest).
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
)

//go:embed openapi.json
var document []byte

// Document returns the document as written, its servers entry a placeholder.
func Document() []byte { return bytes.Clone(document) }

// ForServer returns the document with its servers entry set to the node's
// public URL, keeping the order and layout of the file so it stays readable.
func ForServer(publicURL string) ([]byte, error) {
	servers, err := json.Marshal([]map[string]string{{"url": publicURL, "description": "this node"}})
	if err != nil {
		return nil, fmt.Errorf("encode servers: %w", err)
	}
	return replaceTopLevel(document, "servers", servers)
}

// replaceTopLevel replaces (or adds) one member of a JSON object, leaving
// the others byte for byte.
func replaceTopLevel(doc []byte, key string, value json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("openapi document: not a JSON object")
	}
	var out bytes.Buffer
	out.WriteString("{")
	found := false
	i := 0
	for ; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("openapi document: %w", err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("openapi document: member %q: %w", name, err)
		}
		if name == key {
			raw, found = value, true
		}
		if i > 0 {
			out.WriteString(",")
		}
		k, _ := json.Marshal(name)
		fmt.Fprintf(&out, "\n  %s: %s", k, raw)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, fmt.Errorf("openapi document: unterminated object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("openapi document: data after the object")
	}
	if !found {
		if i > 0 {
			out.WriteString(",")
		}
		k, _ := json.Marshal(key)
		fmt.Fprintf(&out, "\n  %s: %s", k, value)
	}
	out.WriteString("\n}\n")
	return out.Bytes(), nil
}
