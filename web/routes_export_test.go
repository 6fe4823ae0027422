package web

import "net/http"

// routeRecorder notes the patterns routes registers.
type routeRecorder struct{ patterns []string }

func (r *routeRecorder) Handle(pattern string, _ http.Handler) {
	r.patterns = append(r.patterns, pattern)
}
func (r *routeRecorder) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	r.patterns = append(r.patterns, pattern)
}

// RoutePatterns lists the patterns the public handler is built from, in
// registration order, for tests that compare them with the OpenAPI document.
func (s *Server) RoutePatterns() []string {
	var rec routeRecorder
	s.routes(&rec)
	return rec.patterns
}
