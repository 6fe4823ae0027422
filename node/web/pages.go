package web

import (
	"embed"
	"html/template"
	"net/http"
	"strings"

	"github.com/communs-numerique/communs/node"
)

//go:embed templates/*.html
var templateFS embed.FS

var pageFuncs = template.FuncMap{
	"human": node.HumanSize,
	"licence": func(id string) node.License {
		l, ok := node.LookupLicense(id)
		if !ok {
			l = node.License{ID: id, Label: id, Short: id}
		}
		return l
	},
	"attribution": Attribution,
	"join":        strings.Join,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

var pages = template.Must(template.New("").Funcs(pageFuncs).ParseFS(templateFS, "templates/*.html"))

// pageCSP forbids every external resource and inline script: pages work
// without JavaScript and load nothing from elsewhere.
const pageCSP = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	data["Name"] = s.name
	data["PublicURL"] = s.publicURL
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, data); err != nil {
		s.log.Error("render page", "page", name, "err", err)
	}
}

func (s *Server) homePage(w http.ResponseWriter, r *http.Request) {
	items, next, err := s.svc.List(r.Context(), node.ListOptions{Limit: 20, After: r.URL.Query().Get("apres")})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "home.html", map[string]any{"Items": items, "Next": next})
}

// resourcePage serves /r/{id} as HTML and /r/{id}.zip as the kit archive.
func (s *Server) resourcePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if zipID, ok := strings.CutSuffix(id, ".zip"); ok {
		s.zipKit(w, r, zipID)
		return
	}
	res, err := s.svc.Get(r.Context(), id)
	if err != nil {
		status, _, _, _ := statusOf(err)
		s.render(w, r, status, "error.html", map[string]any{"Status": status})
		return
	}
	s.render(w, r, http.StatusOK, "resource.html", map[string]any{"R": res})
}
