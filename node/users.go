package node

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

var userNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

// tokenPrefix makes a leaked token easy to spot in logs and secret scanners.
const tokenPrefix = "cmn_"

const minPasswordLen = 10

func (s *Service) needAccounts() error {
	if s.accounts == nil {
		return errors.New("node: no account store configured")
	}
	return nil
}

// AddUser creates a user and returns its first API token.
func (s *Service) AddUser(ctx context.Context, name, role string) (User, string, error) {
	if err := s.needAccounts(); err != nil {
		return User{}, "", err
	}
	if !userNameRe.MatchString(name) {
		return User{}, "", invalid("name", "must be 1 to 32 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (got %q)", name)
	}
	if role != RoleAdmin && role != RoleEditor {
		return User{}, "", invalid("role", "must be admin or editor (got %q)", role)
	}
	u := User{Name: name, Role: role, Created: s.now().UTC()}
	if err := s.accounts.AddUser(ctx, u); err != nil {
		if errors.Is(err, ErrConflict) {
			return User{}, "", fmt.Errorf("user %q already exists: %w", name, ErrConflict)
		}
		return User{}, "", fmt.Errorf("add user %q: %w", name, err)
	}
	tok, err := s.NewToken(ctx, name)
	if err != nil {
		return User{}, "", err
	}
	return u, tok, nil
}

// ListUsers lists users sorted by name.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	if err := s.needAccounts(); err != nil {
		return nil, err
	}
	us, err := s.accounts.ListUsers(ctx)
	for i := range us {
		us[i].PasswordHash = ""
	}
	return us, err
}

// User returns the named user, without the password hash.
func (s *Service) User(ctx context.Context, name string) (User, error) {
	if err := s.needAccounts(); err != nil {
		return User{}, err
	}
	u, err := s.accounts.GetUser(ctx, name)
	if err != nil {
		return User{}, fmt.Errorf("user %q: %w", name, err)
	}
	u.PasswordHash = ""
	return u, nil
}

// EndSessions ends every web session of the user (logout): the session
// cookies carry the user's epoch, which this raises. Sessions are not
// listed anywhere, so a logout ends the user's sessions on every browser.
func (s *Service) EndSessions(ctx context.Context, name string) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	if err := s.accounts.EndSessions(ctx, name); err != nil {
		return fmt.Errorf("end sessions of %q: %w", name, err)
	}
	return nil
}

// RemoveUser deletes a user and revokes their tokens.
func (s *Service) RemoveUser(ctx context.Context, name string) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	return s.accounts.RemoveUser(ctx, name)
}

// NewToken issues an API token for a user. Only its hash is kept, so the
// token is shown once.
func (s *Service) NewToken(ctx context.Context, name string) (string, error) {
	if err := s.needAccounts(); err != nil {
		return "", err
	}
	if _, err := s.accounts.GetUser(ctx, name); err != nil {
		return "", fmt.Errorf("user %q: %w", name, err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	tok := tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	t := Token{Hash: hashToken(tok), User: name, Created: s.now().UTC()}
	if err := s.accounts.AddToken(ctx, t); err != nil {
		return "", fmt.Errorf("store token for %q: %w", name, err)
	}
	return tok, nil
}

// hashToken is a plain SHA-256: tokens carry 256 random bits, so a slow
// password hash would add latency to every API call and no safety.
func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// Authenticate returns the user owning an API token.
func (s *Service) Authenticate(ctx context.Context, token string) (User, error) {
	if err := s.needAccounts(); err != nil {
		return User{}, err
	}
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 200 {
		return User{}, fmt.Errorf("malformed token: %w", ErrUnauthorized)
	}
	u, err := s.accounts.TokenUser(ctx, hashToken(token))
	if errors.Is(err, ErrNotFound) {
		return User{}, fmt.Errorf("unknown or revoked token: %w", ErrUnauthorized)
	}
	return u, err
}

// SetPassword sets the password used to log in to the web UI, and ends
// the user's web sessions (the store raises their epoch).
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := s.needAccounts(); err != nil {
		return err
	}
	if utf8.RuneCountInString(password) < minPasswordLen {
		return invalid("password", "must be at least %d characters", minPasswordLen)
	}
	if len(password) > 72 { // bcrypt ignores bytes past 72
		return invalid("password", "must be at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	return s.accounts.SetPasswordHash(ctx, name, string(h))
}

// CheckPassword returns the user when the password is right.
func (s *Service) CheckPassword(ctx context.Context, name, password string) (User, error) {
	if err := s.needAccounts(); err != nil {
		return User{}, err
	}
	u, err := s.accounts.GetUser(ctx, name)
	if err != nil || u.PasswordHash == "" {
		// Same cost whether or not the user exists, so timing does not tell.
		_ = bcrypt.CompareHashAndPassword([]byte("$2a$10$7EqJtq98hPqEX7fNZaFWoO5Sz6fO6yqXG6LP8hN8tJ1XVKpjEdM2."), []byte(password))
		return User{}, fmt.Errorf("wrong name or password: %w", ErrUnauthorized)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return User{}, fmt.Errorf("wrong name or password: %w", ErrUnauthorized)
	}
	u.PasswordHash = ""
	return u, nil
}

// CanEdit reports whether a user may publish and edit resources.
func CanEdit(u User) bool { return u.Role == RoleAdmin || u.Role == RoleEditor }
