package web

import (
	"net/http"

	"github.com/communs-numerique/communs/node"
)

type addUserRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// UserWithToken answers a user creation: the token is shown only once.
type UserWithToken struct {
	User  node.User `json:"user"`
	Token string    `json:"token"`
}

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	us, err := s.svc.ListUsers(r.Context())
	if err != nil {
		return err
	}
	if us == nil {
		us = []node.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
	return nil
}

func (s *Server) adminAddUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	var in addUserRequest
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	u, tok, err := s.svc.AddUser(r.Context(), in.Name, in.Role)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, UserWithToken{User: u, Token: tok})
	return nil
}

func (s *Server) adminRemoveUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	if err := s.svc.RemoveUser(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) adminNewToken(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	tok, err := s.svc.NewToken(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"token": tok})
	return nil
}

func (s *Server) adminSetPassword(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	var in struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	if err := s.svc.SetPassword(r.Context(), r.PathValue("name"), in.Password); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
