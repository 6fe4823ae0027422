package main

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEListsEveryFlag keeps the README's configuration table true:
// every flag of serve, and its environment variable, must be in it.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, f := range serveCommand().Flags {
		name := f.Names()[0]
		if !strings.Contains(text, "`--"+name+"`") && !strings.Contains(text, "`--"+name+"`,") {
			t.Errorf("README does not list --%s", name)
		}
		if ev, ok := f.(interface{ GetEnvVars() []string }); ok {
			for _, e := range ev.GetEnvVars() {
				if !strings.Contains(text, "`"+e+"`") {
					t.Errorf("README does not list %s (for --%s)", e, name)
				}
			}
		}
	}
}
