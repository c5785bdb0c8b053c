// Package examples holds the scenarios shipped with Vox, embedded so that
// vox serve can offer the demo at its first start without any file beside the
// binary.
package examples

import _ "embed"

// SeedName is the file name of the seed's incoming-call scenario (S12).
const SeedName = "incoming.js"

// Seed is the seed's incoming-call scenario, seed/incoming.js.
//
//go:embed seed/incoming.js
var Seed string
