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

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request) {
	if _, err := s.admin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	us, err := s.svc.ListUsers(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if us == nil {
		us = []node.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
}

func (s *Server) adminAddUser(w http.ResponseWriter, r *http.Request) {
	if _, err := s.admin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in addUserRequest
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, tok, err := s.svc.AddUser(r.Context(), in.Name, in.Role)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, UserWithToken{User: u, Token: tok})
}

func (s *Server) adminRemoveUser(w http.ResponseWriter, r *http.Request) {
	if _, err := s.admin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.RemoveUser(r.Context(), r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminNewToken(w http.ResponseWriter, r *http.Request) {
	if _, err := s.admin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	tok, err := s.svc.NewToken(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"token": tok})
}

func (s *Server) adminSetPassword(w http.ResponseWriter, r *http.Request) {
	if _, err := s.admin(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.SetPassword(r.Context(), r.PathValue("name"), in.Password); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
