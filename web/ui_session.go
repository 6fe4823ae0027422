package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/communs-numerique/communs/node"
)

// Editor sessions live in a signed cookie: the node keeps no session table,
// so a restart keeps editors logged in and nothing grows on disk. The HMAC
// key sits in the data folder, readable by the node's user only.
//
// Revocation: the cookie carries the account's session epoch
// (node.User.SessionEpoch) and is refused once the stored epoch has moved
// on. Logout and a password change raise it, so they end every session of
// the account, on every browser: without a session table the node cannot
// end just one, and a logout that leaves a copied cookie valid is worse.

const (
	sessionCookie = "communs_session"
	sessionTTL    = 12 * time.Hour
	sessionKeyLen = 32
)

// LoadSessionKey reads the key that signs session cookies, creating it
// (random, mode 0600) at first start.
func LoadSessionKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) < sessionKeyLen {
			return nil, fmt.Errorf("session key %s: %d bytes, want %d; delete it to make a new one (editors will log in again)", path, len(b), sessionKeyLen)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read session key: %w", err)
	}
	key := make([]byte, sessionKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make session key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create session key: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, fmt.Errorf("write session key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write session key: %w", err)
	}
	return key, nil
}

// uiSession is an anonymous visitor's (User empty) or an editor's session.
// SID ties CSRF tokens to this browser.
type uiSession struct {
	SID, User, Role string
	Exp             time.Time
	Epoch           int64
}

func (s *Server) sign(data string) string {
	m := hmac.New(sha256.New, s.sessionKey)
	m.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) encodeSession(sess uiSession) string {
	payload := strings.Join([]string{sess.SID, sess.User, sess.Role, strconv.FormatInt(sess.Exp.Unix(), 10),
		strconv.FormatInt(sess.Epoch, 10)}, "|")
	data := base64.RawURLEncoding.EncodeToString([]byte(payload))
	return data + "." + s.sign("session|"+data)
}

func (s *Server) decodeSession(v string) (uiSession, bool) {
	data, sig, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.sign("session|"+data))) {
		return uiSession{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if err != nil {
		return uiSession{}, false
	}
	parts := strings.Split(string(raw), "|")
	// Cookies of the four-field format (before session epochs) are refused:
	// editors log in once more after the upgrade.
	if len(parts) != 5 {
		return uiSession{}, false
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || time.Now().After(time.Unix(exp, 0)) {
		return uiSession{}, false
	}
	epoch, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil {
		return uiSession{}, false
	}
	return uiSession{SID: parts[0], User: parts[1], Role: parts[2], Exp: time.Unix(exp, 0), Epoch: epoch}, true
}

// session returns the request's valid session, or a zero one.
func (s *Server) session(r *http.Request) uiSession {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return uiSession{}
	}
	sess, _ := s.decodeSession(c.Value)
	return sess
}

// liveSession is session with the user dropped when the session was ended
// (logout elsewhere, new password) or the account is gone, so pages show
// the visitor as logged out; the CSRF binding (SID) stays. It costs one
// account lookup for logged-in visitors only.
func (s *Server) liveSession(r *http.Request) uiSession {
	sess := s.session(r)
	if sess.User != "" {
		if u, err := s.svc.User(r.Context(), sess.User); err != nil || u.SessionEpoch != sess.Epoch {
			sess.User, sess.Role = "", ""
		}
	}
	return sess
}

func newSID() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *Server) setSession(w http.ResponseWriter, sess uiSession) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.encodeSession(sess), Path: "/",
		Expires: sess.Exp, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies})
}

// ensureSession gives an anonymous visitor a session before showing a form,
// so the form's CSRF token has something to be bound to.
func (s *Server) ensureSession(w http.ResponseWriter, r *http.Request) uiSession {
	sess := s.session(r)
	if sess.SID == "" {
		sess = uiSession{SID: newSID(), Exp: time.Now().Add(sessionTTL)}
		s.setSession(w, sess)
	}
	return sess
}

func (s *Server) csrfToken(sess uiSession) string {
	if sess.SID == "" {
		return ""
	}
	return s.sign("csrf|" + sess.SID)
}

// checkCSRF verifies a form's token against the session cookie.
func (s *Server) checkCSRF(r *http.Request, token string) error {
	sess := s.session(r)
	want := s.csrfToken(sess)
	if want == "" || !hmac.Equal([]byte(token), []byte(want)) {
		return fmt.Errorf("missing or wrong CSRF token: %w", node.ErrForbidden)
	}
	return nil
}

// editorUser returns the logged-in editor, checking the account still
// exists with an editing role (an admin may have removed it since login)
// and the session was not ended since (logout, new password).
func (s *Server) editorUser(r *http.Request) (node.User, error) {
	sess := s.session(r)
	if sess.User == "" {
		return node.User{}, fmt.Errorf("not logged in: %w", node.ErrUnauthorized)
	}
	u, err := s.svc.User(r.Context(), sess.User)
	if errors.Is(err, node.ErrNotFound) {
		return node.User{}, fmt.Errorf("user %q no longer exists: %w", sess.User, node.ErrUnauthorized)
	}
	if err != nil {
		return node.User{}, fmt.Errorf("look up user %q: %w", sess.User, err)
	}
	if u.SessionEpoch != sess.Epoch {
		return node.User{}, fmt.Errorf("session of %q ended by a logout or a password change: %w", sess.User, node.ErrUnauthorized)
	}
	if !node.CanEdit(u) {
		return u, fmt.Errorf("user %q may not edit: %w", u.Name, node.ErrForbidden)
	}
	return u, nil
}

// errLogin sends the visitor to the login page (page does): an editor page
// asked by someone not logged in, or whose session ended.
var errLogin = errors.New("login needed")

// editorOrLogin returns the logged-in editor; a visitor gets errLogin, a
// user who may not edit a 403.
func (s *Server) editorOrLogin(r *http.Request) (node.User, error) {
	u, err := s.editorUser(r)
	if errors.Is(err, node.ErrUnauthorized) {
		return u, fmt.Errorf("%w: %w", errLogin, err)
	}
	return u, err
}

type loginData struct {
	Name, Next string
	Error      string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	sess := s.ensureSession(w, r)
	p := s.newPage(w, r, "editor", "login.title", loginData{Next: safeNext(r.URL.Query().Get("retour"))})
	p.CSRF = s.csrfToken(sess)
	p.NoRobots = true
	s.renderPage(w, r, http.StatusOK, "login.html", p)
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = fmt.Errorf("login form larger than 64 KiB: %w", node.ErrTooLarge)
		} else {
			err = fmt.Errorf("login form: %v: %w", err, errBadRequest)
		}
		return err
	}
	if err := s.checkCSRF(r, r.PostFormValue("csrf")); err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	next := safeNext(r.PostFormValue("retour"))
	if next == "/" {
		next = "/editeur"
	}
	refuse := func(status int, msg string) {
		sess := s.ensureSession(w, r)
		p := s.newPage(w, r, "editor", "login.title", loginData{Name: name, Next: next, Error: msg})
		p.CSRF = s.csrfToken(sess)
		p.NoRobots = true
		s.renderPage(w, r, status, "login.html", p)
	}
	// The attempt is counted before the password is checked, so parallel
	// guesses cannot all slip past the limit.
	if until, ok := s.logins.reserve(name); !ok {
		s.log.Warn("login throttled", "user", name, "until", until.Format(time.RFC3339))
		w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(until).Seconds())+1))
		refuse(http.StatusTooManyRequests, "login.throttled")
		return nil
	}
	u, err := s.svc.CheckPassword(r.Context(), name, r.PostFormValue("password"))
	if err == nil && !node.CanEdit(u) {
		err = fmt.Errorf("user %q may not edit: %w", u.Name, node.ErrUnauthorized)
	}
	if err != nil {
		if !errors.Is(err, node.ErrUnauthorized) {
			s.logins.release(name)
			return err
		}
		s.log.Info("login refused", "user", name, "err", err)
		refuse(http.StatusUnauthorized, "login.error")
		return nil
	}
	s.logins.succeeded(name)
	// A fresh session id at login: a token seen before login is worthless after.
	s.setSession(w, uiSession{SID: newSID(), User: u.Name, Role: u.Role, Exp: time.Now().Add(sessionTTL), Epoch: u.SessionEpoch})
	s.log.Info("editor logged in", "user", u.Name)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (s *Server) logoutSubmit(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := s.checkCSRF(r, r.PostFormValue("csrf")); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secureCookies})
	// Clearing the cookie is not enough: a copy of it (shared computer,
	// stolen) would stay valid for its twelve hours. Ending the account's
	// sessions server-side refuses every copy.
	if sess := s.session(r); sess.User != "" {
		if _, err := s.editorUser(r); err == nil {
			if err := s.svc.EndSessions(r.Context(), sess.User); err != nil {
				return err
			}
			s.log.Info("editor logged out; sessions ended", "user", sess.User)
		}
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// randomKey is the fallback session key of a Server given none (tests):
// sessions then end with the process.
func randomKey() []byte {
	b := make([]byte, sessionKeyLen)
	_, _ = rand.Read(b)
	return b
}
