package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/communs-numerique/communs/internal/paths"
	"github.com/communs-numerique/communs/node"
)

// Adaptations: POST /api/v1/resources/{id}/adapt (editors), the "Adapter
// ce kit" form of the resource page, and the admin socket's
// /admin/v1/resources/{id}/adapt (communs resource adapt). The service
// decides (licence, ownership, files); the edges give it the source's
// public URL and show the attribution chain.

// AdaptationJSON is an adaptation another hub made of a local resource.
type AdaptationJSON struct {
	URL   string `json:"url"`
	Title string `json:"title"`
	Hub   string `json:"hub"`
}

// adaptInput is the optional body of an adaptation.
type adaptInput struct {
	Title        string `json:"title"`
	Organisation string `json:"organisation,omitempty"` // admin socket only
}

func (s *Server) adaptOptions(id string, in adaptInput) node.AdaptOptions {
	return node.AdaptOptions{Title: in.Title, SourceURL: s.resourceURL(id), Organisation: in.Organisation}
}

// apiAdapt creates an adaptation owned by the editor's organisation.
func (s *Server) apiAdapt(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editor(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u))
	var in adaptInput
	if r.ContentLength != 0 && r.Header.Get("Content-Type") != "" {
		var body struct {
			Title string `json:"title"`
		}
		if err := decodeJSON(w, r, &body); err != nil {
			return err
		}
		in.Title = body.Title
	}
	res, err := s.svc.Adapt(r.Context(), r.PathValue("id"), s.adaptOptions(r.PathValue("id"), in))
	if err != nil {
		return err
	}
	s.log.Info("resource adapted", "source", r.PathValue("id"), "adaptation", res.ID, "user", u.Name)
	w.Header().Set("Location", s.resourceURL(res.ID))
	writeJSON(w, http.StatusCreated, s.resourceJSON(res))
	return nil
}

// adminAdapt is apiAdapt for the admin socket: the operator may name the
// owning organisation.
func (s *Server) adminAdapt(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.admin(r); err != nil {
		return err
	}
	var in adaptInput
	if err := decodeJSON(w, r, &in); err != nil {
		return err
	}
	res, err := s.svc.Adapt(r.Context(), r.PathValue("id"), s.adaptOptions(r.PathValue("id"), in))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, s.resourceJSON(res))
	return nil
}

// uiAdapt is the resource page's "Adapter ce kit" form: a signed-in
// editor's POST (CSRF checked) creates the adaptation and opens it in the
// editor. A refusal (NoDerivatives, a file the origin no longer serves)
// is the error page, with the rule.
func (s *Server) uiAdapt(w http.ResponseWriter, r *http.Request) error {
	u, err := s.editorOrLogin(r)
	if err != nil {
		return err
	}
	r = r.WithContext(node.WithActor(r.Context(), u))
	if err := s.postedForm(w, r, 64<<10); err != nil {
		return err
	}
	id := r.PathValue("id")
	res, err := s.svc.Adapt(r.Context(), id, s.adaptOptions(id, adaptInput{Title: r.PostFormValue("title")}))
	if err != nil {
		return err
	}
	s.log.Info("resource adapted from its page", "source", id, "adaptation", res.ID, "user", u.Name)
	http.Redirect(w, r, "/editeur/r/"+res.ID, http.StatusSeeOther)
	return nil
}

// adaptationsJSON lists the adaptations other hubs made of a resource;
// a failure to read them is logged and leaves the list out.
func (s *Server) adaptationsJSON(ctx context.Context, id string) []AdaptationJSON {
	as, err := s.svc.AdaptationsOf(ctx, id)
	if err != nil {
		s.log.Warn("list adaptations", "resource", id, "err", err)
		return nil
	}
	var out []AdaptationJSON
	for _, a := range as {
		out = append(out, AdaptationJSON{URL: a.URL, Title: a.Title, Hub: a.Hub})
	}
	return out
}

// SourceAttribution is the credit line of one link of a chain, the form
// of Attribution: « Title » par Authors, hub, sous licence X.
func SourceAttribution(src node.Source) string {
	short := src.License
	if l, ok := node.LookupLicense(src.License); ok {
		short = l.Short
	}
	by := strings.Join(src.Authors, ", ")
	if by == "" {
		by = src.Hub
	}
	return fmt.Sprintf("« %s » par %s, %s, sous licence %s", src.Title, by, src.Hub, short)
}

// chainText is the attribution chain in LICENCE.txt, the direct source
// first.
func chainText(chain []node.Source) string {
	if len(chain) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nAdaptation de / Adapted from:\n")
	for i := len(chain) - 1; i >= 0; i-- {
		prefix := "Adapté de"
		if i < len(chain)-1 {
			prefix = "  qui adaptait / itself adapted from"
		}
		fmt.Fprintf(&b, "  %s %s\n    %s\n", prefix, SourceAttribution(chain[i]), chain[i].URL)
	}
	return b.String()
}

// sourceView is one link of the chain on the resource page.
type sourceView struct {
	node.Source
	// Line is the credit without the title, which the page links.
	By, Licence string
	Link        bool
}

func chainViews(chain []node.Source) []sourceView {
	var out []sourceView
	for i := len(chain) - 1; i >= 0; i-- {
		src := chain[i]
		v := sourceView{Source: src, By: strings.Join(src.Authors, ", "), Licence: src.License, Link: isWebURL(src.URL)}
		if l, ok := node.LookupLicense(src.License); ok {
			v.Licence = l.Short
		}
		out = append(out, v)
	}
	return out
}

// isBasedOnLD is the chain as schema.org isBasedOn, the direct source
// first.
func isBasedOnLD(chain []node.Source) []map[string]any {
	var out []map[string]any
	for i := len(chain) - 1; i >= 0; i-- {
		src := chain[i]
		m := map[string]any{"@type": "CreativeWork", "@id": src.URL, "url": src.URL, "name": src.Title,
			"publisher": map[string]any{"@type": "Organization", "name": src.Hub}}
		if l, ok := node.LookupLicense(src.License); ok {
			m["license"] = l.URL
		} else if src.License != "" {
			m["license"] = src.License
		}
		var authors []map[string]any
		for _, a := range src.Authors {
			authors = append(authors, map[string]any{"@type": "Person", "name": a})
		}
		if authors != nil {
			m["author"] = authors
		}
		out = append(out, m)
	}
	return out
}

// adaptPath is the resource page's adaptation form.
func adaptPath(id string) string { return paths.ResourcePath(id) + "/adapter" }

// adaptView is the adaptation part of a resource page.
type adaptView struct {
	Chain       []sourceView
	Adaptations []AdaptationJSON
	// CanAdapt shows the form to a signed-in editor; Refused is the
	// licence's rule when it forbids adaptation (in the page's language).
	CanAdapt bool
	Refused  string
	Path     string
}

func (s *Server) adaptViewOf(ctx context.Context, p *uiPage, res node.Resource) adaptView {
	v := adaptView{Chain: chainViews(res.BasedOn), Path: adaptPath(res.ID)}
	if res.Local() {
		v.Adaptations = s.adaptationsJSON(ctx, res.ID)
	}
	if p.User != nil && node.CanEdit(*p.User) {
		fr, en, allowed, err := node.AdaptationRule(res.License)
		switch {
		case err != nil:
		case allowed:
			v.CanAdapt = true
		case p.Lang == uiLangs[0]:
			v.Refused = fr
		default:
			v.Refused = en
		}
	}
	return v
}

// adaptationChoices keeps, for an adaptation, the licences its chain
// allows, so the editor's menu offers only those (the service refuses
// the others anyway).
func adaptationChoices(accepted []node.License, res node.Resource) []node.License {
	if len(res.BasedOn) == 0 {
		return accepted
	}
	allowed := node.AdaptationLicencesFor(res.BasedOn)
	var out []node.License
	for _, l := range accepted {
		if slices.Contains(allowed, l.ID) || l.ID == res.License {
			out = append(out, l)
		}
	}
	return out
}

// licenceRuleMessage is the editor form's message for a licence an
// adaptation may not take: the rule, in the page's language.
func licenceRuleMessage(p *uiPage, err error) string {
	var le *node.LicenceRuleError
	if !errors.As(err, &le) || le.NoDerivatives {
		return ""
	}
	rule := le.EN
	if p.Lang == uiLangs[0] {
		rule = le.FR
	}
	return p.T("form.error.license_incompatible", le.From, le.To, rule)
}
