// Package interop holds the opt-in tests that run Communs against real
// fediverse servers on loopback (`make interop`): today GoToSocial v0.18.3,
// built from the Go module proxy by build-gotosocial.sh into a cache
// folder outside the repository. Without COMMUNS_INTEROP=1 they skip.
package interop
