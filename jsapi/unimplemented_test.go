package jsapi

import (
	"reflect"
	"testing"
)

func TestUnimplemented(t *testing.T) {
	tests := []struct {
		name   string
		source string
		want   []string
	}{
		{
			name: "what the layer implements warns of nothing",
			source: `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  e.call.addEventListener(CallEvents.Connected, () => Logger.write("up"));
  const out = VoxEngine.callUser({ username: "user67" });
  out.startPlayback("hello.mp3", { loop: false });
  VoxEngine.sendMediaBetween(e.call, out);
  Net.httpRequestAsync("https://portal.example/config").then((r) => Logger.write(r.code));
  Engine.command("close");
});`,
		},
		{
			name: "VoxEngine, AppEvents and CallEvents members",
			source: `const conf = VoxEngine.createConference();
VoxEngine.addEventListener(AppEvents.WebSocket, () => {});
x.addEventListener(CallEvents.ReInviteReceived, () => {});`,
			want: []string{
				"s.js:1:14: VoxEngine.createConference is not implemented in Vox",
				"s.js:2:28: AppEvents.WebSocket is not implemented in Vox",
				"s.js:3:20: CallEvents.ReInviteReceived is not implemented in Vox",
			},
		},
		{
			name: "strings and comments do not count",
			source: `// VoxEngine.createConference() is for later
/* CallEvents.ReInviteReceived */
Logger.write("VoxEngine.createConference");
const s = ` + "`AppEvents.WebSocket`" + `;`,
		},
		{
			name:   "bracket access with a string",
			source: `VoxEngine["createConference"]();`,
			want:   []string{"s.js:1:1: VoxEngine.createConference is not implemented in Vox"},
		},
		{
			name:   "optional chaining",
			source: `VoxEngine?.createConference?.();`,
			want:   []string{"s.js:1:1: VoxEngine.createConference is not implemented in Vox"},
		},
		{
			name: "modules: require of a constant and of its string",
			source: `require(Modules.ASR);
require("conference");
require(Modules.NoSuchModule);`,
			want: []string{
				"s.js:1:9: Modules.ASR is not implemented in Vox",
				"s.js:2:9: Modules.Conference is not implemented in Vox",
				"s.js:3:9: Modules.NoSuchModule is not implemented in Vox",
			},
		},
		{
			name: "module globals Vox does not define",
			source: `asr.addEventListener(ASREvents.Result, (e) => {});
const mine = { Started: 1 };
const MyEvents = mine;
Logger.write(MyEvents.Started);`,
			want: []string{"s.js:1:22: ASREvents.Result is not implemented in Vox"},
		},
		{
			name: "Call methods on what is evidently a Call",
			source: `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.hold();
  const inbound = e.call;
  const same = inbound;
  same.answer();
  same.answerDirect();
  const out = VoxEngine.callPSTN("74951234567", "74950000000");
  out.startRecording();
  e.call.customData.call(e.call);
});
function bridge({ call }, { call: other }) {
  call.muteMicrophone();
  other.unmuteMicrophone();
}
function leg(call2) { call2.hangup(); call2.transfer(); }
const notACall = { hold() {} };
notACall.hold();`,
			want: []string{
				"s.js:2:3: Call.hold is not implemented in Vox",
				"s.js:6:3: Call.answerDirect is not implemented in Vox",
				"s.js:8:3: Call.startRecording is not implemented in Vox",
				"s.js:12:3: Call.muteMicrophone is not implemented in Vox",
				"s.js:13:3: Call.unmuteMicrophone is not implemented in Vox",
				"s.js:15:39: Call.transfer is not implemented in Vox",
			},
		},
		{
			name: "a scenario's own object with a layer's name",
			source: `const Recorder = { start() {} };
function f(VoxEngine) { return VoxEngine.createConference(); }`,
		},
		{
			name:   "a syntax error gets no warnings",
			source: `VoxEngine.createConference(`,
		},
		{
			name:   "one use warned about once",
			source: `VoxEngine.createConference; VoxEngine.createConference;`,
			want: []string{
				"s.js:1:1: VoxEngine.createConference is not implemented in Vox",
				"s.js:1:29: VoxEngine.createConference is not implemented in Vox",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Unimplemented("s.js", tt.source)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestImplementedAPIFollowsTheLayer: the implemented set is read from the layer,
// so what the layer defines is in it and what it lacks is not.
func TestImplementedAPIFollowsTheLayer(t *testing.T) {
	a, err := implementedAPI()
	if err != nil {
		t.Fatal(err)
	}
	for global, name := range map[string]string{
		"VoxEngine": "callUser", "AppEvents": "CallAlerting", "CallEvents": "PlaybackFinished",
		"Net": "httpRequestAsync", "Logger": "write", "Engine": "command",
	} {
		if !a.members[global][name] {
			t.Errorf("%s.%s is missing from %v", global, name, a.members[global])
		}
	}
	for _, m := range []string{"answer", "hangup", "startPlayback", "handleTones", "sendMessage", "record"} {
		if !a.callMembers[m] {
			t.Errorf("Call.%s is missing", m)
		}
	}
	if a.members["VoxEngine"]["createConference"] || a.callMembers["hold"] {
		t.Error("names the layer lacks are listed as implemented")
	}
	if a.moduleKeys["asr"] != "ASR" {
		t.Errorf("moduleKeys = %v", a.moduleKeys)
	}
}
