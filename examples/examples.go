// Package examples holds the scenarios shipped with Vox, embedded so that
// vox serve can offer the demo at its first start without any file beside the
// binary.
package examples

import _ "embed"

// DemoName is the file name of the demo application's scenario.
const DemoName = "demo.js"

// Demo is the demo application vox serve stores at its first start,
// demo/demo.js: a self-contained call between the two demo phones that needs
// no portal, so a newcomer's first live call works.
//
//go:embed demo/demo.js
var Demo string
