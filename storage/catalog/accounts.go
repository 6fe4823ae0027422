package catalog

import (
	"context"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/communs-numerique/communs/node"
)

// AddUser stores a new user; node.ErrConflict when the name is taken.
func (s *Store) AddUser(ctx context.Context, u node.User) error {
	return s.addNew(ctx, bucketUsers, "user", "name", u.Name, u)
}

// addNew stores v as JSON under key in bucket, refusing an empty key
// (node.ErrInvalid) and a key already taken (node.ErrConflict); what and
// keyName name the record in errors ("user", "name").
func (s *Store) addNew(ctx context.Context, bucket []byte, what, keyName, key string, v any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%s %s: required: %w", what, keyName, node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b.Get([]byte(key)) != nil {
			return fmt.Errorf("%s %q already exists: %w", what, key, node.ErrConflict)
		}
		return putJSON(b, key, v)
	})
}

// GetUser returns the named user, or node.ErrNotFound.
func (s *Store) GetUser(ctx context.Context, name string) (node.User, error) {
	if err := ctx.Err(); err != nil {
		return node.User{}, err
	}
	var u node.User
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		u, err = getUser(tx, name)
		return err
	})
	return u, err
}

// ListUsers returns every user sorted by name (bbolt's key order).
func (s *Store) ListUsers(ctx context.Context) ([]node.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []node.User
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
			var u node.User
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("user %q: decode stored record: %w", k, err)
			}
			out = append(out, u)
			return nil
		})
	})
	return out, err
}

// RemoveUser deletes the user and their tokens in one transaction, so a
// token can never outlive its owner.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		users := tx.Bucket(bucketUsers)
		if users.Get([]byte(name)) == nil {
			return fmt.Errorf("user %q: %w", name, node.ErrNotFound)
		}
		if err := users.Delete([]byte(name)); err != nil {
			return err
		}
		tokens := tx.Bucket(bucketTokens)
		var drop [][]byte
		err := tokens.ForEach(func(k, v []byte) error {
			var t node.Token
			// An undecodable token cannot be attributed to anyone, so it is
			// kept for an operator to look at rather than guessed at.
			if json.Unmarshal(v, &t) == nil && t.User == name {
				drop = append(drop, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range drop {
			if err := tokens.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetPasswordHash replaces the user's password hash and, in the same
// transaction, ends their web sessions: a new password must lock out
// whoever knew the old one, cookie or not.
func (s *Store) SetPasswordHash(ctx context.Context, name, hash string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		u.PasswordHash = hash
		u.SessionEpoch++
		return putJSON(tx.Bucket(bucketUsers), name, u)
	})
}

// EndSessions raises the user's session epoch, so every session cookie
// issued before is refused.
func (s *Store) EndSessions(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		u, err := getUser(tx, name)
		if err != nil {
			return err
		}
		u.SessionEpoch++
		return putJSON(tx.Bucket(bucketUsers), name, u)
	})
}

// AddToken stores a token for an existing user; node.ErrNotFound when the
// user does not exist, node.ErrConflict when the hash is already stored.
func (s *Store) AddToken(ctx context.Context, t node.Token) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if t.Hash == "" {
		return fmt.Errorf("token hash: required: %w", node.ErrInvalid)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		if _, err := getUser(tx, t.User); err != nil {
			return err
		}
		b := tx.Bucket(bucketTokens)
		if b.Get([]byte(t.Hash)) != nil {
			return fmt.Errorf("token of user %q: %w", t.User, node.ErrConflict)
		}
		return putJSON(b, t.Hash, t)
	})
}

// TokenUser returns the owner of the token with this hash. An unknown token
// and a token whose user is gone both give node.ErrNotFound, so a stale
// token never authenticates.
func (s *Store) TokenUser(ctx context.Context, hash string) (node.User, error) {
	if err := ctx.Err(); err != nil {
		return node.User{}, err
	}
	var u node.User
	err := s.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get([]byte(hash))
		if v == nil {
			// The hash is a secret's digest: keep it out of error messages.
			return fmt.Errorf("token: %w", node.ErrNotFound)
		}
		var t node.Token
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("token: decode stored record: %w", err)
		}
		var err error
		u, err = getUser(tx, t.User)
		return err
	})
	return u, err
}

func getUser(tx *bbolt.Tx, name string) (node.User, error) {
	var u node.User
	v := tx.Bucket(bucketUsers).Get([]byte(name))
	if v == nil {
		return u, fmt.Errorf("user %q: %w", name, node.ErrNotFound)
	}
	if err := json.Unmarshal(v, &u); err != nil {
		return u, fmt.Errorf("user %q: decode stored record: %w", name, err)
	}
	return u, nil
}

func putJSON(b *bbolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	return b.Put([]byte(key), data)
}
