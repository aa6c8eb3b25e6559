// Package layering holds the house's rules as tests, so that they are
// checked by the build and not by memory (`make lint` and `make test` run
// them): which packages each binary links, which way imports point, which
// package owns each table's SQL, that no build output is tracked, and that
// docs/architecture.md's package map names every package there is.
//
// Each rule has a name; a violation's message starts with it
// ("rule worker-binary: …") and says how the forbidden package is reached.
// A rule is changed here, in one place, with the reason beside it.
package layering
