package web

// SetSitemapMax lowers the URLs per sitemap file so a test reaches the
// sitemap index without 50,000 resources.
func SetSitemapMax(s *Server, n int) { s.sitemapMax = n }

var Initials = initials
