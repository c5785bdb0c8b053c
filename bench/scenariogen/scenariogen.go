// Package scenariogen generates the large inbound-call scenario the runtime
// benchmark runs: a Bitrix24-style program of about 3000 lines (S12) with settings
// parsing, a blacklist, working hours, departments with menus and queues, CRM
// routing, voicemail, portal commands (S20) and reports (S21). The same options
// always give the same source, so figures from different runs compare.
package scenariogen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Lines the scenario writes with Logger.write that a benchmark waits for. Each is
// a prefix of its line and appears in no other line of the session log.
const (
	// StartedMark ends the Application.Started handler.
	StartedMark = "Scenario started"
	// AlertingMark is written when the CallAlerting handler has taken the call.
	AlertingMark = "Incoming call"
	// PortalMark ends the Application.HttpRequest handler (a portal command, S20).
	PortalMark = "Portal command done"
)

// Name is the file name the scenario is compiled under.
const Name = "bitrix24-bench.js"

// URLs the scenario requests; Portal answers them.
const (
	PortalURL   = "https://portal.example/vox/"
	SettingsURL = PortalURL + "settings"
	CRMURL      = PortalURL + "crm"
	EventsURL   = PortalURL + "events"
)

// DefaultLines is the seed's scenario size (S12).
const DefaultLines = 3000

// Options shape the generated scenario; the zero value gives the benchmark's.
type Options struct {
	Lines int    // at least this many lines; DefaultLines when zero
	Seed  uint64 // picks numbers and names; different seeds give different sources
}

// Generate returns the scenario's source.
func Generate(opts Options) string {
	if opts.Lines <= 0 {
		opts.Lines = DefaultLines
	}
	g := &generator{rng: rand.New(rand.NewPCG(opts.Seed, 0x62697472697834))}
	g.raw(header)
	g.raw(constants)
	g.messages()
	g.raw(logging)
	g.raw(numbers)
	g.settingsSchema()
	g.raw(settingsParsing)
	g.blacklist()
	g.raw(workingHours)
	g.raw(queue)
	g.raw(crm)
	g.raw(reports)
	g.raw(voicemail)
	g.raw(departmentRegistry)
	// The flow and the listeners come last; departments fill the middle until the
	// scenario has the requested size, as a real one grows by its departments.
	tail := strings.Count(callFlow, "\n")
	for i := 0; g.lines+tail < opts.Lines; i++ {
		g.department(i)
	}
	g.raw(callFlow)
	return g.b.String()
}

type generator struct {
	b     strings.Builder
	lines int
	rng   *rand.Rand
}

func (g *generator) raw(s string) {
	g.b.WriteString(s)
	g.lines += strings.Count(s, "\n")
}

func (g *generator) linef(format string, args ...any) {
	fmt.Fprintf(&g.b, format, args...)
	g.b.WriteByte('\n')
	g.lines++
}

func (g *generator) phone() string {
	codes := []string{"7495", "7499", "7812", "7383", "7343", "7846", "7863", "7917", "7926", "7985"}
	return fmt.Sprintf("%s%07d", codes[g.rng.IntN(len(codes))], g.rng.IntN(10000000))
}

// messages writes the prompts in three languages.
func (g *generator) messages() {
	g.linef("// Prompts by language; t() falls back to Russian, the portal's default.")
	g.linef("var MESSAGES = {")
	for _, lang := range []string{"ru", "en", "de"} {
		g.linef("  %s: {", lang)
		for i, key := range messageKeys {
			g.linef("    %s: %q,", key, messageText(lang, key, i))
		}
		g.linef("  },")
	}
	g.linef("};")
	g.linef("")
}

var messageKeys = []string{
	"welcome", "nightGreeting", "holidayGreeting", "queueWait", "queuePosition", "allBusy",
	"voicemailPrompt", "voicemailSaved", "voicemailTooShort", "blacklisted", "transfer",
	"transferFailed", "directCodePrompt", "directCodeUnknown", "menuMain", "menuRepeat",
	"menuInvalid", "recordingNotice", "callbackOffer", "callbackAccepted", "operatorGreeting",
	"crmKnownClient", "crmManagerBusy", "lowBalance", "technicalError", "goodbye",
	"holdMusicNotice", "waitLonger", "noAnswer", "forwardToMobile", "lineBusy", "surveyPrompt",
	"surveyThanks", "languageSwitch", "workHoursInfo", "addressInfo", "pressZero",
}

func messageText(lang, key string, i int) string {
	switch lang {
	case "ru":
		return fmt.Sprintf("Сообщение %d (%s): пожалуйста, оставайтесь на линии, ваш звонок очень важен для нас.", i, key)
	case "de":
		return fmt.Sprintf("Nachricht %d (%s): bitte bleiben Sie dran, Ihr Anruf ist uns wichtig.", i, key)
	}
	return fmt.Sprintf("Message %d (%s): please stay on the line, your call is important to us.", i, key)
}

// settingsField is one field of the portal's per-number settings.
type settingsField struct {
	name, kind string
	def        string // a JS literal
	json       string // the value Portal sends, as JSON
}

// settingsFields are the fields parseSettings knows; the flow reads the first
// ones, the rest stand for the long tail of options a real portal sends.
var settingsFields = func() []settingsField {
	f := []settingsField{
		{"portal", "string", `""`, `"bench.portal.example"`},
		{"lang", "string", `"ru"`, `"ru"`},
		{"timezoneOffset", "int", "180", "180"},
		{"record", "bool", "false", "true"},
		{"ringTime", "int", "20", "15"},
		{"queueStrategy", "string", `"evenly"`, `"evenly"`},
		{"queueTimeout", "int", "120", "90"},
		{"department", "int", "0", "0"},
		{"crmRouting", "bool", "true", "true"},
		{"voicemail", "bool", "true", "true"},
		{"voicemailMaxSeconds", "int", "120", "60"},
		{"blacklistAuto", "bool", "false", "true"},
		{"blacklist", "list", "[]", `["74950000001","74950000002"]`},
		{"operators", "list", "[]", `["user101","user102","user103"]`},
		{"workDays", "list", `["mon","tue","wed","thu","fri"]`, `["mon","tue","wed","thu","fri"]`},
		{"workFrom", "time", `"09:00"`, `"09:00"`},
		{"workTo", "time", `"18:00"`, `"18:00"`},
		{"holidays", "list", "[]", `["2025-01-01","2025-01-07","2025-05-09"]`},
		{"forwardNumber", "string", `""`, `""`},
		{"lowBalanceThreshold", "int", "100", "100"},
	}
	extra := []string{"Survey", "Callback", "Greeting", "HoldMusic", "Transcribe", "Analytics",
		"Whisper", "Priority", "Overflow", "Sms", "Email", "Chat", "Webhook", "Tags"}
	for i, e := range extra {
		f = append(f,
			settingsField{"enable" + e, "bool", "false", fmt.Sprint(i%2 == 0)},
			settingsField{"timeout" + e, "int", "30", fmt.Sprint(10 + i)},
			settingsField{"target" + e, "string", `""`, fmt.Sprintf("%q", strings.ToLower(e)+"-target")},
		)
	}
	return f
}()

func (g *generator) settingsSchema() {
	g.linef("// What the portal may send for a number, with the defaults for what it leaves out.")
	g.linef("var SETTINGS_SCHEMA = [")
	for _, f := range settingsFields {
		g.linef("  { name: %q, type: %q, def: %s },", f.name, f.kind, f.def)
	}
	g.linef("];")
	g.linef("")
}

// SettingsJSON is the portal's answer to the settings request.
func SettingsJSON() string {
	var b strings.Builder
	b.WriteString("{")
	for i, f := range settingsFields {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%s", f.name, f.json)
	}
	b.WriteString("}")
	return b.String()
}

func (g *generator) blacklist() {
	g.linef("// Numbers no call is taken from, on every portal; a portal adds its own.")
	g.linef("var GLOBAL_BLACKLIST = [")
	for row := 0; row < 20; row++ {
		var nums []string
		for i := 0; i < 6; i++ {
			nums = append(nums, fmt.Sprintf("%q", g.phone()))
		}
		g.linef("  %s,", strings.Join(nums, ", "))
	}
	g.linef("];")
	g.raw(blacklistCode)
}

var departmentNames = []string{"sales", "support", "billing", "delivery", "returns", "partners",
	"hr", "legal", "marketing", "logistics", "service", "warranty", "wholesale", "retail"}

// department writes one department: its settings, routing rules, menu and prompts.
func (g *generator) department(i int) {
	name := departmentNames[i%len(departmentNames)]
	id := i + 1
	v := fmt.Sprintf("DEPARTMENT_%d", id)
	g.linef("// Department %d (%s): menu, prompts, operators and routing rules.", id, name)
	g.linef("var %s = {", v)
	g.linef("  id: %d,", id)
	g.linef("  code: %q,", fmt.Sprintf("%s-%d", name, id))
	g.linef("  ringTime: %d,", 15+g.rng.IntN(20))
	g.linef("  maxWait: %d,", 60+g.rng.IntN(240))
	g.linef("  strategy: %q,", []string{"evenly", "sequential", "random"}[g.rng.IntN(3)])
	var ops []string
	for k := 1; k <= 4; k++ {
		ops = append(ops, fmt.Sprintf("%q", fmt.Sprintf("user%d%02d", id, k)))
	}
	g.linef("  operators: [%s],", strings.Join(ops, ", "))
	g.linef("  directCodes: { %q: %q, %q: %q, %q: %q },",
		fmt.Sprint(id*100+1), fmt.Sprintf("user%d01", id),
		fmt.Sprint(id*100+2), fmt.Sprintf("user%d02", id),
		fmt.Sprint(id*100+3), fmt.Sprintf("user%d03", id))
	g.linef("  prompts: {")
	g.linef("    ru: %q,", fmt.Sprintf("Вы позвонили в отдел %s. Нажмите 1 для связи с оператором, 2 для голосовой почты.", name))
	g.linef("    en: %q,", fmt.Sprintf("You have reached %s. Press 1 for an operator, 2 for voicemail.", name))
	g.linef("  },")
	g.linef("  rules: [")
	for k := 0; k < 4; k++ {
		g.linef("    { prefix: %q, target: %q, weight: %d },", g.phone()[:4+g.rng.IntN(3)], fmt.Sprintf("user%d%02d", id, 1+g.rng.IntN(4)), 1+g.rng.IntN(5))
	}
	g.linef("  ],")
	g.linef("};")
	g.linef("")
	g.linef("function department%dRoute(ctx) {", id)
	g.linef("  var caller = ctx.callerNumber || \"\";")
	g.linef("  for (var i = 0; i < %s.rules.length; i++) {", v)
	g.linef("    var rule = %s.rules[i];", v)
	g.linef("    if (caller.indexOf(rule.prefix) === 0) {")
	g.linef("      logDebug(\"department %d: rule \" + rule.prefix + \" -> \" + rule.target);", id)
	g.linef("      return { kind: \"user\", targets: [rule.target], ringTime: %s.ringTime };", v)
	g.linef("    }")
	g.linef("  }")
	g.linef("  if (ctx.digits && %s.directCodes[ctx.digits]) {", v)
	g.linef("    return { kind: \"user\", targets: [%s.directCodes[ctx.digits]], ringTime: %s.ringTime };", v, v)
	g.linef("  }")
	g.linef("  return { kind: \"queue\", targets: %s.operators.slice(), ringTime: %s.ringTime, strategy: %s.strategy };", v, v, v)
	g.linef("}")
	g.linef("")
	g.linef("function department%dMenu(digit) {", id)
	g.linef("  switch (digit) {")
	g.linef("    case \"1\":")
	g.linef("      return { action: \"queue\", department: %d };", id)
	g.linef("    case \"2\":")
	g.linef("      return { action: \"voicemail\", department: %d };", id)
	g.linef("    case \"0\":")
	g.linef("      return { action: \"operator\", target: %s.operators[0] };", v)
	g.linef("    default:")
	g.linef("      return { action: \"repeat\" };")
	g.linef("  }")
	g.linef("}")
	g.linef("")
	g.linef("function department%dGreeting(lang) {", id)
	g.linef("  return %s.prompts[lang] || %s.prompts.ru;", v, v)
	g.linef("}")
	g.linef("")
	g.linef("registerDepartment(%s, department%dRoute, department%dMenu, department%dGreeting);", v, id, id, id)
	g.linef("")
}
