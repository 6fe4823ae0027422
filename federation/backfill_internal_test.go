package federation

import (
	"errors"
	"testing"
)

// TestReadyPages: a backfill saves together the pages already read, never
// more than asked, never waiting for one not read yet, and never past a
// page that ended the reading.
func TestReadyPages(t *testing.T) {
	boom := errors.New("page on another host")
	tests := []struct {
		name   string
		queued []backfillPage
		closed bool
		max    int
		want   []string // next of each page in the group ("!" for an error)
	}{
		{"nothing waiting", nil, false, 4, []string{"1"}},
		{"all waiting pages", []backfillPage{{next: "2"}, {next: "3"}}, false, 4, []string{"1", "2", "3"}},
		{"at most max", []backfillPage{{next: "2"}, {next: "3"}, {next: "4"}, {next: "5"}}, false, 3, []string{"1", "2", "3"}},
		{"outbox ended", []backfillPage{{next: ""}}, true, 4, []string{"1", ""}},
		{"stops after an error", []backfillPage{{next: "2"}, {err: boom}, {next: "x"}}, false, 4, []string{"1", "2", "!"}},
		{"max one", []backfillPage{{next: "2"}}, false, 1, []string{"1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages := make(chan backfillPage, len(tt.queued)+1)
			for _, pg := range tt.queued {
				pages <- pg
			}
			if tt.closed {
				close(pages)
			}
			got := readyPages(backfillPage{next: "1"}, pages, tt.max)
			var nexts []string
			for _, pg := range got {
				if pg.err != nil {
					nexts = append(nexts, "!")
					continue
				}
				nexts = append(nexts, pg.next)
			}
			if len(nexts) != len(tt.want) {
				t.Fatalf("group %q, want %q", nexts, tt.want)
			}
			for i := range nexts {
				if nexts[i] != tt.want[i] {
					t.Fatalf("group %q, want %q", nexts, tt.want)
				}
			}
		})
	}
}
