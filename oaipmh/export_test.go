package oaipmh

// SetPageSize lets the tests page through a small catalog.
func SetPageSize(n int) (restore func()) {
	old := pageSize
	pageSize = n
	return func() { pageSize = old }
}
