package catalog

import (
	"context"
	"errors"
	"testing"

	"github.com/communs-numerique/communs/node"
)

// TestSessionEpoch: ending sessions and changing the password each raise
// the user's session epoch, and nothing else about the user changes.
func TestSessionEpoch(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	if err := s.AddUser(ctx, node.User{Name: "alice", Role: node.RoleEditor}); err != nil {
		t.Fatal(err)
	}
	epoch := func() int64 {
		u, err := s.GetUser(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		return u.SessionEpoch
	}
	if e := epoch(); e != 0 {
		t.Fatalf("new user's epoch %d", e)
	}
	if err := s.EndSessions(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if e := epoch(); e != 1 {
		t.Fatalf("after EndSessions: epoch %d, want 1", e)
	}
	if err := s.SetPasswordHash(ctx, "alice", "$2a$h"); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.GetUser(ctx, "alice"); u.SessionEpoch != 2 || u.PasswordHash != "$2a$h" || u.Role != node.RoleEditor {
		t.Fatalf("after a password change: %+v", u)
	}
	if err := s.EndSessions(ctx, "nobody"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("EndSessions of a missing user: %v", err)
	}
}
