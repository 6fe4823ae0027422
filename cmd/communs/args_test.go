package main

import (
	"slices"
	"testing"
)

func TestInterspersedFlags(t *testing.T) {
	app := newApp()
	cases := []struct {
		in, want []string
	}{
		{[]string{"communs", "user", "add", "marie", "--role", "editor"},
			[]string{"communs", "user", "add", "--role", "editor", "--", "marie"}},
		{[]string{"communs", "user", "add", "--role=admin", "marie"},
			[]string{"communs", "user", "add", "--role=admin", "--", "marie"}},
		{[]string{"communs", "resource", "import", "./kits", "--s3-insecure", "--data", "/d"},
			[]string{"communs", "resource", "import", "--s3-insecure", "--data", "/d", "--", "./kits"}},
		{[]string{"communs", "resource", "rm", "--", "-odd"},
			[]string{"communs", "resource", "rm", "--", "-odd"}},
		{[]string{"communs", "serve"}, []string{"communs", "serve"}},
		{[]string{"communs", "unknown", "x", "--y"}, []string{"communs", "unknown", "x", "--y"}},
		{[]string{"communs", "--help"}, []string{"communs", "--help"}},
	}
	for _, c := range cases {
		if got := interspersed(app, c.in); !slices.Equal(got, c.want) {
			t.Errorf("interspersed(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
