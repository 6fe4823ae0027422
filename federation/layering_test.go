package federation

import (
	"go/build"
	"strings"
	"testing"
)

// TestNoStorageImports keeps the federation an adapter of node: it reads
// descriptions through internal/text, never through a storage or search
// engine package.
func TestNoStorageImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.Contains(imp, "/communs/storage") {
			t.Errorf("federation imports %s", imp)
		}
	}
}
