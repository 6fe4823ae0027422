package testenv

import "testing"

func TestReadMemory(t *testing.T) {
	before, err := ReadMemory(0)
	if err != nil {
		t.Fatal(err)
	}
	// Touch 64 MiB: the peak and the anonymous part must show it.
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	after, err := ReadMemory(0)
	if err != nil {
		t.Fatal(err)
	}
	if after.Anon < before.Anon+60 || after.Peak < before.RSS+60 || after.RSS < after.Anon {
		t.Errorf("64 MiB touched, memory went from %+v to %+v", before, after)
	}
	_ = b[len(b)-1]
}
