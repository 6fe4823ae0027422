package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/communs-numerique/communs/internal/paths"
)

// PeerInfo is a hub this node federates with, as the federation layer
// reports it to the pages.
type PeerInfo struct {
	Name, URL, Host     string
	Following, Follower bool
}

func (s *Server) initUI(opt Options) {
	s.logins = newLoginThrottle()
	s.region, s.description = opt.Region, opt.Description
	s.sessionKey = opt.SessionKey
	if len(s.sessionKey) == 0 {
		s.sessionKey = randomKey()
	}
	s.secureCookies = strings.HasPrefix(s.publicURL, "https://")
	s.actorURL, s.peers = opt.ActorURL, opt.Peers
	if opt.Brand != nil {
		s.brand = *opt.Brand
	} else {
		s.brand = NewBrand(s.name, nil, nil)
	}
	s.started = time.Now().UTC().Truncate(time.Second)
}

// uiRoutes registers the HTML pages. French paths first; the search and
// browse pages answer an English path too, for links shared in English.
func (s *Server) uiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /static/{name}", s.staticFile)
	mux.HandleFunc("GET /langue/{lang}", s.langSwitch)
	mux.HandleFunc("GET "+paths.Search, s.page(s.searchPage))
	mux.HandleFunc("GET /search", s.page(s.searchPage))
	mux.HandleFunc("GET /ressources", s.page(s.browsePage))
	mux.HandleFunc("GET /resources", s.page(s.browsePage))
	mux.HandleFunc("GET /guide", s.guidePage)
	mux.HandleFunc("GET /hub", s.page(s.hubPage))
	s.organisationPageRoutes(mux)
	s.collectionPageRoutes(mux)
	mux.HandleFunc("GET "+paths.Feed, s.page(s.atomFeed))
	mux.HandleFunc("POST "+paths.ResourceReport, s.page(s.reportSubmit))
	mux.HandleFunc("POST "+paths.ResourceShare, s.page(s.shareSubmit(s.resourceShares())))
	mux.HandleFunc("POST "+paths.ResourceAdapt, s.page(s.uiAdapt))
	mux.HandleFunc("GET /connexion", s.loginPage)
	mux.HandleFunc("POST /connexion", s.page(s.loginSubmit))
	mux.HandleFunc("POST /deconnexion", s.page(s.logoutSubmit))
	mux.HandleFunc("GET /editeur", s.page(s.editorHome))
	mux.HandleFunc("GET /editeur/nouveau", s.page(s.editorNew))
	mux.HandleFunc("POST /editeur/nouveau", s.page(s.editorCreate))
	mux.HandleFunc("GET /editeur/r/{id}", s.page(s.editorEdit))
	mux.HandleFunc("POST /editeur/r/{id}", s.page(s.editorUpdate))
	mux.HandleFunc("POST /editeur/r/{id}/fichiers", s.page(s.editorAddFiles))
	mux.HandleFunc("POST /editeur/r/{id}/fichiers/supprimer", s.page(s.editorDeleteFile))
	mux.HandleFunc("GET /editeur/r/{id}/supprimer", s.page(s.editorDeleteConfirm))
	mux.HandleFunc("POST /editeur/r/{id}/supprimer", s.page(s.editorDelete))
	mux.HandleFunc("/", s.notFoundPage)
}

// peerList asks the federation layer for peers; a failure shows as "no
// peer" on the page, logged, rather than breaking the home page.
func (s *Server) peerList(ctx context.Context) []PeerInfo {
	if s.peers == nil {
		return nil
	}
	ps, err := s.peers(ctx)
	if err != nil {
		s.log.Warn("list peers for the pages", "err", err)
		return nil
	}
	return ps
}
