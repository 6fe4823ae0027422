package web

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// guideNeeds maps what a small organisation says it needs to the theme
// slugs of the shared vocabulary (node.Themes); several themes answer one
// need, as one filter with OR inside.
var guideNeeds = []struct {
	Key    string
	Themes []string
}{
	{"vendre", []string{"vente-en-ligne"}},
	{"donnees", []string{"donnees-personnelles", "cybersecurite"}},
	{"communiquer", []string{"communication", "reseaux-sociaux"}},
	{"equiper", []string{"numerique-responsable", "reparation", "logiciels-libres"}},
	{"former", []string{"premiers-pas", "bureautique", "messagerie"}},
	{"gerer", []string{"gestion-association", "gestion-entreprise"}},
	{"demarches", []string{"demarches-en-ligne", "identite-numerique"}},
	{"collaborer", []string{"visioconference", "messagerie"}},
}

// guideProfiles maps what the visitor is to the audience vocabulary.
var guideProfiles = []struct{ Key, Audience string }{
	{"association", "associations"},
	{"tpe", "tpe"},
	{"commune", "collectivites"},
}

type guideData struct {
	Profiles, Needs []string
	Qui             string
	Besoin          []string
	Error           string
}

// guidePage asks two plain questions and sends the answers to the matching
// filtered search, so the result is an ordinary, shareable results page.
func (s *Server) guidePage(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	d := guideData{Qui: v.Get("qui"), Besoin: v["besoin"]}
	for _, p := range guideProfiles {
		d.Profiles = append(d.Profiles, p.Key)
	}
	for _, n := range guideNeeds {
		d.Needs = append(d.Needs, n.Key)
	}
	status := http.StatusOK
	if v.Has("envoi") {
		target := url.Values{}
		ok := true
		if d.Qui != "" {
			i := slices.IndexFunc(guideProfiles, func(p struct{ Key, Audience string }) bool { return p.Key == d.Qui })
			if i < 0 {
				ok = false
			} else {
				target.Add("audience", guideProfiles[i].Audience)
			}
		}
		themes := map[string]bool{}
		for _, b := range d.Besoin {
			found := false
			for _, n := range guideNeeds {
				if n.Key == b {
					found = true
					for _, t := range n.Themes {
						if !themes[t] {
							themes[t] = true
							target.Add("theme", t)
						}
					}
				}
			}
			ok = ok && found
		}
		switch {
		case !ok:
			d.Error, status = "guide.error.unknown", http.StatusBadRequest
		case len(target) == 0:
			d.Error, status = "guide.error.empty", http.StatusBadRequest
		default:
			http.Redirect(w, r, "/recherche?"+target.Encode(), http.StatusSeeOther)
			return
		}
	}
	s.renderPage(w, r, status, "guide.html", s.newPage(w, r, "guide", "guide.title", d))
}

type hubData struct {
	Count     int
	Peers     []PeerInfo
	Accepted  []node.License
	MaxFile   int64
	FeedURL   string
	APIURL    string
	PublicURL string

	// Collections counts the hub's collections (-1: unknown).
	Collections int
}

func (s *Server) hubPage(w http.ResponseWriter, r *http.Request) error {
	n, err := s.svc.Count(r.Context())
	if err != nil {
		return err
	}
	d := hubData{Count: n, Peers: s.peerList(r.Context()), MaxFile: s.svc.MaxFileSize(),
		FeedURL: paths.Feed, APIURL: paths.APIResources, PublicURL: s.publicURL, Collections: -1}
	if _, total, err := s.svc.ListCollections(r.Context(), node.ListCollectionsQuery{Limit: 1}); err == nil {
		d.Collections = total
	}
	for _, id := range s.svc.Policy().Accepted() {
		if l, ok := node.LookupLicense(id); ok {
			d.Accepted = append(d.Accepted, l)
		}
	}
	s.renderPage(w, r, http.StatusOK, "hub.html", s.newPage(w, r, "hub", "hub.title", d))
	return nil
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomCategory struct {
	Term  string `xml:"term,attr"`
	Label string `xml:"label,attr,omitempty"`
}

type atomEntry struct {
	ID         string         `xml:"id"`
	Title      atomText       `xml:"title"`
	Updated    string         `xml:"updated"`
	Published  string         `xml:"published,omitempty"`
	Links      []atomLink     `xml:"link"`
	Summary    *atomText      `xml:"summary,omitempty"`
	Authors    []atomPerson   `xml:"author"`
	Categories []atomCategory `xml:"category"`
	Rights     string         `xml:"rights,omitempty"`
	Lang       string         `xml:"xml:lang,attr,omitempty"`
}

type atomFeed struct {
	XMLName  xml.Name     `xml:"http://www.w3.org/2005/Atom feed"`
	Lang     string       `xml:"xml:lang,attr"`
	ID       string       `xml:"id"`
	Title    atomText     `xml:"title"`
	Subtitle *atomText    `xml:"subtitle,omitempty"`
	Updated  string       `xml:"updated"`
	Links    []atomLink   `xml:"link"`
	Authors  []atomPerson `xml:"author"`
	Entries  []atomEntry  `xml:"entry"`
}

// atomFeed publishes the newest resources, so a mediator's feed reader (or
// another hub's script) learns of new kits without an account.
func (s *Server) atomFeed(w http.ResponseWriter, r *http.Request) error {
	items, _, err := s.svc.List(r.Context(), node.ListOptions{Limit: 50})
	if err != nil {
		return err
	}
	lang := pickLang(r)
	f := atomFeed{Lang: lang, ID: s.publicURL + "/", Title: atomText{Type: "text", Body: s.name},
		Links:   []atomLink{{Rel: "self", Type: "application/atom+xml", Href: s.publicURL + paths.Feed}, {Rel: "alternate", Type: "text/html", Href: s.publicURL + "/"}},
		Authors: []atomPerson{{Name: s.name}}}
	if s.description != "" {
		f.Subtitle = &atomText{Type: "text", Body: s.description}
	}
	var newest time.Time
	for _, res := range items {
		upd := res.Updated
		if upd.IsZero() {
			upd = res.Created
		}
		if upd.After(newest) {
			newest = upd
		}
		e := atomEntry{ID: s.resourceURL(res.ID), Title: atomText{Type: "text", Body: res.Title},
			Updated: upd.UTC().Format(time.RFC3339), Links: []atomLink{{Rel: "alternate", Type: "text/html", Href: s.resourceURL(res.ID)}},
			Lang: res.Language, Rights: attributionIn(lang, res)}
		if !res.Created.IsZero() {
			e.Published = res.Created.UTC().Format(time.RFC3339)
		}
		if res.Summary != "" {
			e.Summary = &atomText{Type: "text", Body: res.Summary}
		}
		for _, a := range res.Authors {
			e.Authors = append(e.Authors, atomPerson{Name: a})
		}
		e.Categories = append(e.Categories, atomCategory{Term: res.Kind, Label: translate(lang, "kind."+res.Kind)})
		for _, t := range res.Themes {
			e.Categories = append(e.Categories, atomCategory{Term: t, Label: translate(lang, "theme."+t)})
		}
		f.Entries = append(f.Entries, e)
	}
	if newest.IsZero() {
		newest = time.Unix(0, 0)
	}
	f.Updated = newest.UTC().Format(time.RFC3339)
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	if _, err := fmt.Fprint(w, xml.Header); err != nil {
		return nil
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", " ")
	if err := enc.Encode(f); err != nil {
		s.log.Warn("write atom feed", "err", err)
	}
	return nil
}
