// Package standard ships the standard incoming scenario (S12), the JavaScript
// files of this directory, embedded so that vox serve stores it at its first
// start as the default application. The directory is also an ordinary
// scenario project: vox scenario push scenarios/standard and vox sim
// scenarios/standard read the same files. README.md documents the number
// settings that drive it.
package standard

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"vox/scenarios"
)

// App is the application name the standard scenario is stored under.
const App = "standard"

//go:embed *.js rules.json
var files embed.FS

// DemoSettings are number settings that exercise the scenario with the demo
// SIP users (phone67, phone68) and no media files: a number given them
// greets with the progress tone, takes extensions 67 and 68, rings both users
// in turn and records, and takes a voicemail when nobody answers.
//
//go:embed demo-settings.json
var DemoSettings []byte

// Push returns the scenario as a push of application App: its files and the
// rules of rules.json, which name them in the order they run.
func Push() (scenarios.Push, error) {
	data, err := files.ReadFile(scenarios.RulesFile)
	if err != nil {
		return scenarios.Push{}, fmt.Errorf("standard scenario: %w", err)
	}
	var rules []scenarios.Rule
	if err := json.Unmarshal(data, &rules); err != nil {
		return scenarios.Push{}, fmt.Errorf("standard scenario: %s: %w", scenarios.RulesFile, err)
	}
	entries, err := files.ReadDir(".")
	if err != nil {
		return scenarios.Push{}, fmt.Errorf("standard scenario: %w", err)
	}
	p := scenarios.Push{App: App, Rules: rules}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".js") {
			continue
		}
		src, err := files.ReadFile(e.Name())
		if err != nil {
			return scenarios.Push{}, fmt.Errorf("standard scenario: %w", err)
		}
		p.Files = append(p.Files, scenarios.File{Name: e.Name(), Source: string(src)})
	}
	sort.Slice(p.Files, func(i, j int) bool { return p.Files[i].Name < p.Files[j].Name })
	return p, nil
}
