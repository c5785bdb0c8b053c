package jsapi

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// obj is a JS object as goja exports it.
type obj = map[string]any

// hostCall is one command the VoxEngine layer issued, with its params objects
// exported to Go values.
type hostCall struct {
	Name   string
	Params []any
}

func cmd(name string, params ...any) hostCall {
	if params == nil {
		params = []any{}
	}
	return hostCall{Name: name, Params: params}
}

// fakeHost records what the VoxEngine layer asks of the host. It stands in for
// the runtime's session, which is not part of this package.
type fakeHost struct {
	commands []hostCall
	logs     []string
	warns    []string
	ids      int
}

func (h *fakeHost) object(vm *goja.Runtime) *goja.Object {
	o := vm.NewObject()
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(o.Set("command", func(call goja.FunctionCall) goja.Value {
		c := hostCall{Name: call.Argument(0).String(), Params: []any{}}
		for _, p := range call.Arguments[1:] {
			c.Params = append(c.Params, p.Export())
		}
		h.commands = append(h.commands, c)
		return goja.Undefined()
	}))
	must(o.Set("newCallId", func() string {
		h.ids++
		return fmt.Sprintf("out-%d", h.ids)
	}))
	must(o.Set("log", func(s string) { h.logs = append(h.logs, s) }))
	must(o.Set("warn", func(s string) { h.warns = append(h.warns, s) }))
	// The zone lookup is pure, so the fake hands the layer the real one.
	must(o.Set("zonedTime", zonedTime(vm)))
	return o
}

// Engine events used by several cases, as the host would deliver them.
const (
	alerting = `{"name":"Application.CallAlerting","id":"in-1","callerid":"79112233444",` +
		`"destination":"74012000000","displayName":"Ivan","fromURI":"sip:test@vox.local",` +
		`"toURI":"sip:74012000000@vox.local","headers":{"VI-Client-Type":"user"}}`
	inConnected    = `{"name":"Call.Connected","id":"in-1","headers":{}}`
	inDisconnected = `{"name":"Call.Disconnected","id":"in-1","duration":34,"cost":0,"direction":"any Incoming VoIP","headers":{}}`
)

// answerFirst is a scenario prefix that keeps the incoming call in c.
const answerFirst = `let c; VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => { c = e.call; });`

func TestVoxEngine(t *testing.T) {
	tests := []struct {
		name   string
		script string
		// events are JS object literals delivered in order through the
		// dispatcher; a script "step" between them is written as an event
		// whose text starts with "run:".
		events    []string
		want      []hostCall
		wantLogs  []string
		wantWarns []string
		// wantErrs are substrings of the errors the script and the
		// dispatches return, in order.
		wantErrs []string
	}{
		{
			name: "answer, early media, progress tone, hangup from a Connected listener",
			script: `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
				e.call.startEarlyMedia();
				e.call.playProgressTone("RU");
				e.call.answer({"X-Vox": "1"});
				e.call.addEventListener(CallEvents.Connected, (ev) => { ev.call.hangup(); });
			});`,
			events: []string{alerting, inConnected},
			want: []hostCall{
				cmd("StartAudio", obj{"id": "in-1", "headers": nil}),
				cmd("PlayToneScript", obj{"id": "in-1", "script": "425@-19;*(1/4/1)", "loop": true}),
				cmd("AcceptCall", obj{"id": "in-1", "headers": obj{"X-Vox": "1"}}),
				cmd("HangupCall", obj{"id": "in-1", "headers": nil}),
			},
		},
		{
			name: "zoned time: offsets with and without daylight saving, the date line, now",
			script: `const f = (z, t) => { const v = VoxEngine.zonedTime(z, t); return [v.date, v.time, v.weekday, v.offset, v.year, v.month, v.day, v.hour, v.minute, v.second].join(" "); };
				Logger.write(f("Europe/Moscow", Date.UTC(2026, 0, 7, 6, 30, 15)));
				Logger.write(f("Europe/Berlin", new Date(Date.UTC(2026, 6, 1, 22, 0))));
				Logger.write(f("Europe/Berlin", Date.UTC(2026, 0, 1, 22, 0)));
				Logger.write(f("America/New_York", Date.UTC(2026, 0, 5, 3, 0)));
				Logger.write(f("UTC", Date.UTC(2026, 0, 5, 3, 0)));
				Logger.write(VoxEngine.zonedTime("UTC").date === new Date().toISOString().slice(0, 10));`,
			wantLogs: []string{
				"2026-01-07 09:30 3 180 2026 1 7 9 30 15",
				"2026-07-02 00:00 4 120 2026 7 2 0 0 0",
				"2026-01-01 23:00 4 60 2026 1 1 23 0 0",
				"2026-01-04 22:00 0 -300 2026 1 4 22 0 0",
				"2026-01-05 03:00 1 0 2026 1 5 3 0 0",
				"true",
			},
		},
		{
			name:     "zoned time: an unknown zone is a RangeError",
			script:   `VoxEngine.zonedTime("Mars/Olympus", 0)`,
			wantErrs: []string{`RangeError: VoxEngine.zonedTime: unknown time zone "Mars/Olympus"`},
		},
		{
			name:     "zoned time: the server's own zone is refused",
			script:   `VoxEngine.zonedTime("Local", 0)`,
			wantErrs: []string{`RangeError: VoxEngine.zonedTime: name an IANA time zone`},
		},
		{
			name:     "zoned time: a zone that is not a string is a TypeError",
			script:   `VoxEngine.zonedTime(3, 0)`,
			wantErrs: []string{`TypeError: VoxEngine.zonedTime: the time zone must be a string`},
		},
		{
			name:     "zoned time: a time that is not a number is a RangeError",
			script:   `VoxEngine.zonedTime("UTC", "soon")`,
			wantErrs: []string{`RangeError: VoxEngine.zonedTime: the time is not a finite number`},
		},
		{
			name:   "reject with a code and headers",
			script: `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.reject(603, {"X-Why": "blacklist"}));`,
			events: []string{alerting},
			want:   []hostCall{cmd("HangupCall", obj{"id": "in-1", "code": int64(603), "headers": obj{"X-Why": "blacklist"}})},
		},
		{
			name:   "reject without a code sends 486, decline is reject",
			script: answerFirst,
			events: []string{alerting, `run: c.reject()`,
				strings.Replace(alerting, "in-1", "in-2", 1), `run: c.decline(480)`},
			want: []hostCall{
				cmd("HangupCall", obj{"id": "in-1", "code": int64(486), "headers": nil}),
				cmd("HangupCall", obj{"id": "in-2", "code": int64(480), "headers": nil}),
			},
		},
		{
			name:   "commands on a terminated call are warned and dropped",
			script: answerFirst,
			events: []string{alerting, `run: c.hangup(); c.answer(); c.hangup()`,
				inDisconnected, `run: c.startPlayback("http://x/a.mp3")`},
			want: []hostCall{cmd("HangupCall", obj{"id": "in-1", "headers": nil})},
			wantWarns: []string{
				"Call in-1: AcceptCall ignored, the call is already terminated",
				"Call in-1: HangupCall ignored, the call is already terminated",
				"Call in-1: Play ignored, the call is already terminated",
			},
		},
		{
			name:   "progress tones by country, alias and fallback",
			script: answerFirst,
			events: []string{alerting, `run: c.playProgressTone("US"); c.playProgressTone("gb"); c.playProgressTone("UK"); c.playProgressTone("ZZ")`},
			want: []hostCall{
				cmd("PlayToneScript", obj{"id": "in-1", "script": "440@-19,480@-19;*(2/4/1+2)", "loop": true}),
				cmd("PlayToneScript", obj{"id": "in-1", "script": "400@-19,450@-19;*(0.4/0.2/1+2,0.4/2/1+2)", "loop": true}),
				cmd("PlayToneScript", obj{"id": "in-1", "script": "400@-19,450@-19;*(0.4/0.2/1+2,0.4/2/1+2)", "loop": true}),
				cmd("PlayToneScript", obj{"id": "in-1", "script": "440@-19,480@-19;*(2/4/1+2)", "loop": true}),
			},
			wantWarns: []string{`Call in-1: no progress tone for country "ZZ", playing the US ringback`},
		},
		{
			name:   "startPlayback in both forms, stopPlayback",
			script: answerFirst,
			events: []string{alerting, `run: c.startPlayback("http://x/a.mp3", {loop: true});
				c.startPlayback("http://x/b.mp3", true); c.startPlayback("http://x/c.mp3"); c.stopPlayback()`},
			want: []hostCall{
				cmd("Play", obj{"id": "in-1", "url": "http://x/a.mp3", "loop": true}),
				cmd("Play", obj{"id": "in-1", "url": "http://x/b.mp3", "loop": true}),
				cmd("Play", obj{"id": "in-1", "url": "http://x/c.mp3", "loop": false}),
				cmd("Stop", obj{"id": "in-1"}),
			},
		},
		{
			name:   "say with a voice in every form",
			script: answerFirst,
			events: []string{alerting, `run: c.say("one"); c.say("two", {voice: "ru_RU_Female"});
				c.say("three", "en_US_Male"); c.say("four", {language: "de_DE"})`},
			want: []hostCall{
				cmd("Say", obj{"id": "in-1", "text": "one", "voice": nil}),
				cmd("Say", obj{"id": "in-1", "text": "two", "voice": "ru_RU_Female"}),
				cmd("Say", obj{"id": "in-1", "text": "three", "voice": "en_US_Male"}),
				cmd("Say", obj{"id": "in-1", "text": "four", "voice": "de_DE"}),
			},
		},
		{
			// As Voximplant's older forms allow: voice wins over language even
			// when null, and each is read once (a getter sees one read).
			name:   "say reads voice and language once each",
			script: answerFirst,
			events: []string{alerting, `run: const reads = {voice: 0, language: 0};
				c.say("five", {get voice() { reads.voice++; return "v"; }, get language() { reads.language++; return "l"; }});
				c.say("six", {voice: null, language: "de_DE"});
				Logger.write(reads.voice + " " + reads.language)`},
			want: []hostCall{
				cmd("Say", obj{"id": "in-1", "text": "five", "voice": "v"}),
				cmd("Say", obj{"id": "in-1", "text": "six", "voice": nil}),
			},
			wantLogs: []string{"1 1"},
		},
		{
			name:   "record, stopRecording, tones, digits, messages",
			script: answerFirst,
			events: []string{alerting, `run: c.record(); c.record({stereo: true}); c.stopRecording();
				c.handleTones(true); c.handleTones(false); c.handleTones();
				c.sendDigits("12#"); c.sendDigits(34); c.sendMessage('{"COMMAND":"wait"}')`},
			want: []hostCall{
				cmd("Record", obj{"id": "in-1", "stereo": false}),
				cmd("Record", obj{"id": "in-1", "stereo": true}),
				cmd("StopRecord", obj{"id": "in-1"}),
				cmd("HandleTones", obj{"id": "in-1", "handle": true}),
				cmd("HandleTones", obj{"id": "in-1", "handle": false}),
				cmd("HandleTones", obj{"id": "in-1", "handle": true}),
				cmd("SendDigits", obj{"id": "in-1", "digits": "12#"}),
				cmd("SendDigits", obj{"id": "in-1", "digits": "34"}),
				cmd("SendMessage", obj{"id": "in-1", "text": `{"COMMAND":"wait"}`}),
			},
		},
		{
			name:   "blind transfer: handle, the request, success and failure",
			script: answerFirst,
			events: []string{alerting, `run: c.handleBlindTransfer(true); c.handleBlindTransfer(false); c.handleBlindTransfer();
				c.addEventListener(CallEvents.BlindTransferRequested, (e) => {
					Logger.write(e.transferTo + " " + e.headers["Refer-To"] + " " + (e.call === c));
					e.call.notifyBlindTransferSuccess();
					e.call.notifyBlindTransferFailed(486, "Busy Here");
					e.call.notifyBlindTransferFailed();
				});`,
				`{"name":"Call.BlindTransferRequested","id":"in-1","transferTo":"phone69","headers":{"Refer-To":"sip:phone69@vox"}}`},
			want: []hostCall{
				cmd("HandleBlindTransfer", obj{"id": "in-1", "handle": true}),
				cmd("HandleBlindTransfer", obj{"id": "in-1", "handle": false}),
				cmd("HandleBlindTransfer", obj{"id": "in-1", "handle": true}),
				cmd("NotifyBlindTransfer", obj{"id": "in-1", "code": int64(200), "reason": "OK"}),
				cmd("NotifyBlindTransfer", obj{"id": "in-1", "code": int64(486), "reason": "Busy Here"}),
				cmd("NotifyBlindTransfer", obj{"id": "in-1", "code": int64(500), "reason": ""}),
			},
			wantLogs: []string{"phone69 sip:phone69@vox true"},
		},
		{
			name:   "INFO both ways, hold",
			script: answerFirst,
			events: []string{alerting, `run: c.sendInfo("application/x-crm+json", '{"lead":7}', {"X-Crm": "1"}); c.sendInfo("application/x-empty");
				c.addEventListener(CallEvents.InfoReceived, (e) => Logger.write(e.mimeType + " " + e.body + " " + e.headers["X-Pbx"]));
				c.addEventListener(CallEvents.OnHold, () => Logger.write("held"));
				c.addEventListener(CallEvents.OffHold, () => Logger.write("back"));`,
				`{"name":"Call.InfoReceived","id":"in-1","mimeType":"application/x-pbx","body":"park=1","headers":{"X-Pbx":"7"}}`,
				`{"name":"Call.OnHold","id":"in-1"}`, `{"name":"Call.OffHold","id":"in-1"}`},
			want: []hostCall{
				cmd("SendInfo", obj{"id": "in-1", "mimeType": "application/x-crm+json", "body": `{"lead":7}`, "headers": obj{"X-Crm": "1"}}),
				cmd("SendInfo", obj{"id": "in-1", "mimeType": "application/x-empty", "body": "", "headers": nil}),
			},
			wantLogs: []string{"application/x-pbx park=1 7", "held", "back"},
		},
		{
			name: "CallAlerting event carries the call and the INVITE's fields",
			script: `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
				const {call, ...rest} = e;
				Logger.write(JSON.stringify(rest));
				Logger.write([call.id(), call.number(), call.callerid(), call.displayName(),
					JSON.stringify(call.headers()), call.state(), call.incoming(), call.customData()].join("|"));
			});`,
			events: []string{alerting},
			wantLogs: []string{
				`{"name":"Application.CallAlerting","callerid":"79112233444","destination":"74012000000",` +
					`"displayName":"Ivan","headers":{"VI-Client-Type":"user"},"fromURI":"sip:test@vox.local",` +
					`"toURI":"sip:74012000000@vox.local"}`,
				`in-1|74012000000|79112233444|Ivan|{"VI-Client-Type":"user"}|ALERTING|true|`,
			},
		},
		{
			name: "call events carry name, call and the engine params; state follows them",
			script: answerFirst + `
				const show = (e) => { const {call, ...rest} = e; Logger.write(call.state() + " " + JSON.stringify(rest)); };
				VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
					for (const k of Object.keys(CallEvents)) e.call.addEventListener(CallEvents[k], show);
				});`,
			events: []string{alerting,
				`{"name":"Call.AudioStarted","id":"in-1","headers":{}}`,
				inConnected,
				`{"name":"Call.PlaybackFinished","id":"in-1","error":"404 Not Found"}`,
				`{"name":"Call.ToneReceived","id":"in-1","tone":"5"}`,
				`{"name":"Call.MessageReceived","id":"in-1","text":"{\"COMMAND\":\"hold\"}","headers":{}}`,
				`{"name":"Call.RecordStarted","id":"in-1","url":"http://rec/1.mp3"}`,
				inDisconnected,
				`{"name":"Call.RecordStopped","id":"in-1","url":"http://rec/1.mp3","duration":18,"cost":0,"reason":"Stopped by user"}`,
			},
			wantLogs: []string{
				`PROGRESSING {"name":"Call.AudioStarted","id":"in-1","headers":{}}`,
				`CONNECTED {"name":"Call.Connected","id":"in-1","headers":{}}`,
				`CONNECTED {"name":"Call.PlaybackFinished","id":"in-1","error":"404 Not Found"}`,
				`CONNECTED {"name":"Call.ToneReceived","id":"in-1","tone":"5"}`,
				`CONNECTED {"name":"Call.MessageReceived","id":"in-1","text":"{\"COMMAND\":\"hold\"}","headers":{}}`,
				`CONNECTED {"name":"Call.RecordStarted","id":"in-1","url":"http://rec/1.mp3"}`,
				`TERMINATED {"name":"Call.Disconnected","id":"in-1","duration":34,"cost":0,"direction":"any Incoming VoIP","headers":{}}`,
				`TERMINATED {"name":"Call.RecordStopped","id":"in-1","url":"http://rec/1.mp3","duration":18,"cost":0,"reason":"Stopped by user"}`,
			},
		},
		{
			name: "callUser in the old positional form",
			script: `const out = VoxEngine.callUser("phone67", "79112233444");
				Logger.write([out.id(), out.number(), out.callerid(), out.displayName(), out.state(), out.incoming()].join("|"));`,
			want: []hostCall{cmd("CallUser", obj{"id": "out-1"},
				obj{"username": "phone67", "callerid": "79112233444", "displayName": nil, "headers": nil, "video": nil})},
			wantLogs: []string{"out-1|phone67|79112233444||PROGRESSING|false"},
		},
		{
			name: "callUser with a parameter object",
			script: `VoxEngine.callUser({username: "user67", callerid: "79112233444", displayName: "Ivan",
				extraHeaders: {"X-Line": "2"}, video: false});`,
			want: []hostCall{cmd("CallUser", obj{"id": "out-1"},
				obj{"username": "user67", "callerid": "79112233444", "displayName": "Ivan", "headers": obj{"X-Line": "2"}, "video": false})},
		},
		{
			name: "callSIP in Voximplant's positional order",
			script: `VoxEngine.callSIP("sip:alice@example.org", "74950000000", "Office", "secret", "auth1",
				{"X-A": "b"}, false, "10.0.0.1");`,
			want: []hostCall{cmd("CallSIP", obj{"id": "out-1"}, obj{"to": "sip:alice@example.org", "callerid": "74950000000",
				"displayName": "Office", "headers": obj{"X-A": "b"}, "video": false, "authUser": "auth1",
				"password": "secret", "outProxy": "10.0.0.1"})},
		},
		{
			name: "callSIP with a parameter object, and with the address only",
			script: `VoxEngine.callSIP("sip:bob@example.org", {callerid: "7495", authUser: "u", password: "p", headers: {"X-B": "c"}});
				VoxEngine.callSIP("sip:carol@example.org");`,
			want: []hostCall{
				cmd("CallSIP", obj{"id": "out-1"}, obj{"to": "sip:bob@example.org", "callerid": "7495", "displayName": nil,
					"headers": obj{"X-B": "c"}, "video": nil, "authUser": "u", "password": "p", "outProxy": nil}),
				cmd("CallSIP", obj{"id": "out-2"}, obj{"to": "sip:carol@example.org", "callerid": nil, "displayName": nil,
					"headers": nil, "video": nil, "authUser": nil, "password": nil, "outProxy": nil}),
			},
		},
		{
			name: "callPSTN with and without parameters",
			script: `VoxEngine.callPSTN("74954451120", "74012000000");
				VoxEngine.callPSTN("74954451120", "74012000000", {headers: {"X-Trunk": "main"}});`,
			want: []hostCall{
				cmd("CallPSTN", obj{"id": "out-1"}, obj{"number": "74954451120", "callerid": "74012000000", "headers": nil}),
				cmd("CallPSTN", obj{"id": "out-2"}, obj{"number": "74954451120", "callerid": "74012000000", "headers": obj{"X-Trunk": "main"}}),
			},
		},
		{
			name: "outgoing call fails: Failed listener sees code and reason, bridge is refused",
			script: answerFirst + `let out;
				VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
					out = VoxEngine.callUser("phone67", e.callerid);
					out.addEventListener(CallEvents.Ringing, (ev) => Logger.write("ringing " + ev.call.state()));
					out.addEventListener(CallEvents.Failed, (ev) => {
						Logger.write(ev.code + " " + ev.reason + " " + ev.call.state());
						VoxEngine.sendMediaBetween(c, out);
					});
				});`,
			events: []string{alerting,
				`{"name":"Call.Ringing","id":"out-1","headers":{}}`,
				`{"name":"Call.Failed","id":"out-1","code":487,"reason":"Request Terminated","headers":{}}`},
			want: []hostCall{cmd("CallUser", obj{"id": "out-1"},
				obj{"username": "phone67", "callerid": "79112233444", "displayName": nil, "headers": nil, "video": nil})},
			wantLogs:  []string{"ringing PROGRESSING", "487 Request Terminated TERMINATED"},
			wantWarns: []string{"SendMediaBetween in-1 out-1 ignored, a call is already terminated"},
		},
		{
			name: "sendMediaBetween and stopMediaBetween",
			script: answerFirst + `let out;
				VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => { out = VoxEngine.callPSTN("7495", e.callerid); });`,
			events: []string{alerting, `{"name":"Call.Connected","id":"out-1","headers":{}}`,
				`run: VoxEngine.sendMediaBetween(c, out); VoxEngine.stopMediaBetween(out, c)`,
				`run: VoxEngine.sendMediaBetween(c, "out-1")`},
			want: []hostCall{
				cmd("CallPSTN", obj{"id": "out-1"}, obj{"number": "7495", "callerid": "79112233444", "headers": nil}),
				cmd("SendMediaBetween", obj{"id1": "in-1", "id2": "out-1"}),
				cmd("StopMediaBetween", obj{"id1": "out-1", "id2": "in-1"}),
			},
			wantErrs: []string{"TypeError: VoxEngine.sendMediaBetween: both arguments must be Call objects"},
		},
		{
			name: "sendMediaTo and stopMediaTo go one way",
			script: answerFirst + `let out;
				VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => { out = VoxEngine.callPSTN("7495", e.callerid); });`,
			events: []string{alerting, `{"name":"Call.Connected","id":"out-1","headers":{}}`,
				`run: c.sendMediaTo(out); out.stopMediaTo(c)`,
				`run: c.sendMediaTo("out-1")`,
				`run: c.stopMediaTo(c)`,
				`{"name":"Call.Disconnected","id":"out-1","headers":{}}`,
				`run: c.sendMediaTo(out)`},
			want: []hostCall{
				cmd("CallPSTN", obj{"id": "out-1"}, obj{"number": "7495", "callerid": "79112233444", "headers": nil}),
				cmd("SendMediaTo", obj{"id": "in-1", "to": "out-1"}),
				cmd("StopMediaTo", obj{"id": "out-1", "to": "in-1"}),
			},
			wantErrs: []string{
				"TypeError: Call.sendMediaTo: the argument must be a Call object",
				"TypeError: Call.stopMediaTo: a call cannot hear itself",
			},
			wantWarns: []string{"Call in-1: SendMediaTo out-1 ignored, that call is already terminated"},
		},
		{
			name:   "forwardCallToUser: ringing, early media, answer, messages, INFO, hang-up",
			script: `VoxEngine.forwardCallToUser((a, b) => Logger.write("established " + a.id() + " " + b.id()));`,
			events: []string{alerting,
				`{"name":"Call.Ringing","id":"out-1","headers":{}}`,
				`{"name":"Call.AudioStarted","id":"out-1","headers":{}}`,
				`{"name":"Call.Connected","id":"out-1","headers":{"X-Desk":"7"}}`,
				inConnected,
				`{"name":"Call.MessageReceived","id":"in-1","text":"hi"}`,
				`{"name":"Call.InfoReceived","id":"out-1","mimeType":"application/x-pbx","body":"park=1","headers":{"X-Pbx":"7"}}`,
				`{"name":"Call.Disconnected","id":"out-1","headers":{}}`},
			want: []hostCall{
				cmd("CallUser", obj{"id": "out-1"},
					obj{"username": "74012000000", "callerid": "79112233444", "displayName": "Ivan", "headers": nil, "video": nil}),
				cmd("Ring", obj{"id": "in-1", "headers": nil}),
				cmd("StartAudio", obj{"id": "in-1", "headers": nil}),
				cmd("SendMediaBetween", obj{"id1": "in-1", "id2": "out-1"}),
				cmd("AcceptCall", obj{"id": "in-1", "headers": obj{"X-Desk": "7"}}),
				cmd("SendMediaBetween", obj{"id1": "in-1", "id2": "out-1"}),
				cmd("SendMessage", obj{"id": "out-1", "text": "hi"}),
				cmd("SendInfo", obj{"id": "in-1", "mimeType": "application/x-pbx", "body": "park=1", "headers": obj{"X-Pbx": "7"}}),
				cmd("HangupCall", obj{"id": "in-1", "headers": nil}),
				cmd("close"),
			},
			wantLogs: []string{"established in-1 out-1"},
		},
		{
			name:   "forwardCallToPSTN: a failure rejects the caller with its status",
			script: `VoxEngine.forwardCallToPSTN((n) => "7" + n.slice(1), null, {callerid: "74950000100"});`,
			events: []string{alerting, `{"name":"Call.Failed","id":"out-1","code":486,"reason":"Busy Here","headers":{}}`},
			want: []hostCall{
				cmd("CallPSTN", obj{"id": "out-1"}, obj{"number": "74012000000", "callerid": "74950000100", "headers": nil}),
				cmd("HangupCall", obj{"id": "in-1", "code": int64(486), "headers": nil}),
				cmd("close"),
			},
		},
		{
			name: "forwardCallToSIP calls the URI dialled; the caller hanging up cancels it; direct warns",
			script: `VoxEngine.forwardCallToSIP();
				VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
					VoxEngine.easyProcess(e.call, VoxEngine.callPSTN("7495", "1"), null, true);
					VoxEngine.easyProcess(e.call, "out-1");
				});`,
			events: []string{alerting, inDisconnected},
			want: []hostCall{
				cmd("CallSIP", obj{"id": "out-1"}, obj{"to": "sip:74012000000@vox.local", "callerid": "79112233444", "displayName": "Ivan",
					"headers": nil, "video": nil, "authUser": nil, "password": nil, "outProxy": nil}),
				cmd("CallPSTN", obj{"id": "out-2"}, obj{"number": "7495", "callerid": "1", "headers": nil}),
				cmd("HangupCall", obj{"id": "out-1", "headers": nil}),
				cmd("close"),
				cmd("HangupCall", obj{"id": "out-2", "headers": nil}),
				cmd("close"),
			},
			wantWarns: []string{"VoxEngine.easyProcess: the direct (P2P) mode is not implemented in Vox; the media goes through Vox"},
			wantErrs:  []string{"TypeError: VoxEngine.easyProcess: call1 and call2 must be Call objects"},
		},
		{
			name:   "terminate closes the session",
			script: `VoxEngine.addEventListener(AppEvents.CallAlerting, () => VoxEngine.terminate());`,
			events: []string{alerting},
			want:   []hostCall{cmd("close")},
		},
		{
			name: "customData comes from Started and is set with SetCustomData",
			script: `VoxEngine.addEventListener(AppEvents.Started, (e) => {
				Logger.write(VoxEngine.customData() + " " + e.sessionId);
				Logger.write(VoxEngine.customData("lead=42"));
				Logger.write(VoxEngine.customData());
			});`,
			events: []string{`{"name":"Application.Started","accessURL":"http://vox/req/1","accountId":7,` +
				`"applicationId":3,"logURL":"","sessionId":48475497,"userId":1,"customData":"from-api"}`},
			want:     []hostCall{cmd("SetCustomData", obj{"data": "lead=42"})},
			wantLogs: []string{"from-api 48475497", "lead=42", "lead=42"},
		},
		{
			name:     "customData is empty when Started carries none; Logger.write stringifies",
			script:   `VoxEngine.addEventListener(AppEvents.Started, () => { Logger.write(JSON.stringify(VoxEngine.customData())); Logger.write(42); });`,
			events:   []string{`{"name":"Application.Started","sessionId":1}`},
			wantLogs: []string{`""`, "42"},
		},
		{
			name: "call customData is local and set by Connected",
			script: answerFirst + `VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
				e.call.addEventListener(CallEvents.Connected, (ev) => Logger.write(ev.call.customData()));
			});`,
			events:   []string{alerting, `run: Logger.write(c.customData("mine"))`, `{"name":"Call.Connected","id":"in-1","customData":"sdk","headers":{}}`},
			wantLogs: []string{"mine", "sdk"},
		},
		{
			name: "application events reach their listeners with the event's params",
			script: `for (const k of ["HttpRequest", "Terminating", "Terminated"]) {
				VoxEngine.addEventListener(AppEvents[k], (e) => Logger.write(JSON.stringify(e)));
			}`,
			events: []string{
				`{"name":"Application.HttpRequest","method":"POST","path":"/request/1","content":"{\"COMMAND\":\"wait\"}"}`,
				`{"name":"Application.Terminating"}`,
				`{"name":"Application.Terminated"}`,
			},
			wantLogs: []string{
				`{"name":"Application.HttpRequest","method":"POST","path":"/request/1","content":"{\"COMMAND\":\"wait\"}"}`,
				`{"name":"Application.Terminating"}`,
				`{"name":"Application.Terminated"}`,
			},
		},
		{
			name: "removeEventListener drops one listener or all of an event",
			script: answerFirst + `
				const a = () => Logger.write("a"), b = () => Logger.write("b");
				VoxEngine.addEventListener(AppEvents.Terminating, a);
				VoxEngine.addEventListener(AppEvents.Terminating, a);
				VoxEngine.addEventListener(AppEvents.Terminating, b);
				VoxEngine.removeEventListener(AppEvents.Terminating, a);
				VoxEngine.addEventListener(AppEvents.Terminated, a);
				VoxEngine.addEventListener(AppEvents.Terminated, b);
				VoxEngine.removeEventListener(AppEvents.Terminated);
				VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
					e.call.addEventListener(CallEvents.Connected, a);
					e.call.addEventListener(CallEvents.Connected, b);
					e.call.removeEventListener(CallEvents.Connected, b);
				});`,
			events:   []string{alerting, inConnected, `{"name":"Application.Terminating"}`, `{"name":"Application.Terminated"}`},
			wantLogs: []string{"a", "b"},
		},
		{
			name: "a listener removed by an earlier one in the same round does not run",
			script: `const b = () => Logger.write("b");
				VoxEngine.addEventListener(AppEvents.Terminating, () => { Logger.write("a"); VoxEngine.removeEventListener(AppEvents.Terminating, b); });
				VoxEngine.addEventListener(AppEvents.Terminating, b);`,
			events:   []string{`{"name":"Application.Terminating"}`},
			wantLogs: []string{"a"},
		},
		{
			name: "a throwing listener does not stop the others; the first error is rethrown",
			script: `VoxEngine.addEventListener(AppEvents.CallAlerting, () => { throw new Error("first boom"); });
				VoxEngine.addEventListener(AppEvents.CallAlerting, () => { Logger.write("second ran"); throw new RangeError("second boom"); });
				VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());`,
			events:    []string{alerting},
			want:      []hostCall{cmd("AcceptCall", obj{"id": "in-1", "headers": nil})},
			wantLogs:  []string{"second ran"},
			wantWarns: []string{"another Application.CallAlerting listener also threw: RangeError: second boom"},
			wantErrs:  []string{"Error: first boom"},
		},
		{
			name:     "an unknown event constant is a TypeError",
			script:   `VoxEngine.addEventListener(AppEvents.NewWebSocketFailed, () => {});`,
			wantErrs: []string{"TypeError: VoxEngine.addEventListener: unknown event undefined; the constant used is not implemented in Vox"},
		},
		{
			// A name is known by its value alone: another source's event, or a
			// key of the constants with a wrong prefix, is not.
			name: "names close to a known one are unknown",
			script: `for (const n of ["Call.Connected", "X.Started", "Started", "Application.Call.Connected", "constructor"]) {
					try { VoxEngine.addEventListener(n, () => {}); } catch (e) { Logger.write(e.message.split(";")[0]); }
				}`,
			wantLogs: []string{
				`VoxEngine.addEventListener: unknown event "Call.Connected"`,
				`VoxEngine.addEventListener: unknown event "X.Started"`,
				`VoxEngine.addEventListener: unknown event "Started"`,
				`VoxEngine.addEventListener: unknown event "Application.Call.Connected"`,
				`VoxEngine.addEventListener: unknown event "constructor"`,
			},
		},
		{
			name:   "an unknown call event constant or a non-function listener is a TypeError",
			script: answerFirst,
			events: []string{alerting, `run: c.addEventListener(CallEvents.ReInviteReceived, () => {})`,
				`run: c.removeEventListener("Call.Nope")`, `run: c.addEventListener(CallEvents.Connected, "handler")`},
			wantErrs: []string{
				"TypeError: Call.addEventListener: unknown event undefined",
				`TypeError: Call.removeEventListener: unknown event "Call.Nope"`,
				"TypeError: Call.addEventListener(Call.Connected): the listener must be a function, got string",
			},
		},
		{
			name:   "require refuses modules Vox does not implement",
			script: `require(Modules.ASR);`,
			events: []string{`run: require("nope")`, `run: require()`},
			wantWarns: []string{
				"module Modules.ASR is not available in Vox",
				`require: unknown module "nope"; pass one of the Modules constants`,
				"require: unknown module undefined; pass one of the Modules constants",
			},
			wantErrs: []string{
				"Error: module Modules.ASR is not available in Vox",
				`Error: require: unknown module "nope"`,
				"Error: require: unknown module undefined",
			},
		},
		{
			name: "httpRequestAsync sends one command and resolves with the result",
			script: `Net.httpRequestAsync("http://crm/api?x=1", {method: "post", headers: {"Content-Type": "application/json"},
					postData: "{}", timeout: 5, params: {q: "a b"}})
				.then((r) => Logger.write(JSON.stringify(r)));`,
			events: []string{`{"name":"Net.HttpRequestResult","id":"out-1","code":200,"text":"{\"ok\":true}","headers":{"Content-Type":"application/json"}}`},
			want: []hostCall{cmd("HttpRequest", obj{"id": "out-1", "url": "http://crm/api?x=1&q=a%20b", "method": "POST",
				"headers": obj{"Content-Type": "application/json"}, "postData": "{}", "timeout": int64(5000)})},
			wantLogs: []string{`{"code":200,"text":"{\"ok\":true}","headers":[{"key":"Content-Type","value":"application/json"}],` +
				`"raw_headers":"Content-Type: application/json\r\n"}`},
		},
		{
			name: "a failed request resolves with its negative code and error",
			script: `(async () => {
				const r = await Net.httpRequestAsync("http://down/");
				Logger.write(r.code + " " + r.error + " " + JSON.stringify(r.headers) + " " + JSON.stringify(r.text));
			})();`,
			events: []string{`{"name":"Net.HttpRequestResult","id":"out-1","code":-7,"error":"timeout"}`},
			want: []hostCall{cmd("HttpRequest", obj{"id": "out-1", "url": "http://down/", "method": "GET",
				"headers": nil, "postData": nil, "timeout": nil})},
			wantLogs: []string{`-7 timeout [] ""`},
		},
		{
			name: "httpRequest callback form, header arrays, results matched by id",
			script: `Net.httpRequest("http://a/", (r) => Logger.write("a " + r.code + " " + r.headers[0].key), {headers: ["X-One: 1", {name: "X-Two", value: "2"}]});
				Net.httpRequest("http://b/", (r) => Logger.write("b " + r.code), {headers: [{key: "X-Three", value: 3}]});`,
			events: []string{
				`{"name":"Net.HttpRequestResult","id":"out-2","code":404,"text":"","headers":[{"name":"Server","value":"x"}]}`,
				`{"name":"Net.HttpRequestResult","id":"out-1","code":200,"text":"","headers":[{"key":"Date","value":"today"}]}`,
				`{"name":"Net.HttpRequestResult","id":"out-1","code":200}`,
			},
			want: []hostCall{
				cmd("HttpRequest", obj{"id": "out-1", "url": "http://a/", "method": "GET",
					"headers": obj{"X-One": "1", "X-Two": "2"}, "postData": nil, "timeout": nil}),
				cmd("HttpRequest", obj{"id": "out-2", "url": "http://b/", "method": "GET",
					"headers": obj{"X-Three": "3"}, "postData": nil, "timeout": nil}),
			},
			// The repeated result is for nobody VoxEngine knows: a request made
			// through Engine.command is the scenario's own business.
			wantLogs: []string{"b 404", "a 200 Date"},
		},
		{
			name:     "httpRequest without a URL or callback is a TypeError",
			script:   `Net.httpRequest("http://a/");`,
			events:   []string{`run: Net.httpRequestAsync()`},
			wantErrs: []string{"TypeError: Net.httpRequest: the callback must be a function", "TypeError: Net.httpRequestAsync: url must be a non-empty string"},
		},
		{
			name:   "unknown events are warned about; events of calls VoxEngine did not place are left to onPhoneEvent",
			script: ``,
			events: []string{inConnected, `{"name":"Media.Something"}`, `{"id":"x"}`},
			wantWarns: []string{
				"unknown event Media.Something ignored",
				"event without a name ignored: [object Object]",
			},
		},
		{
			// Net and Modules are built on first use; once built, or assigned,
			// they are plain properties as the rest of the API is.
			name: "lazily built globals behave as plain ones",
			script: `const d = (n) => Object.getOwnPropertyDescriptor(globalThis, n);
				const get = d("Net").get;
				const net = Net;
				const nd = d("Net");
				Logger.write([net === Net, get() === net, typeof net.httpRequest, Object.isFrozen(net),
					"value" in nd, nd.writable, nd.configurable, nd.enumerable].join(" "));
				Modules = 5;
				const md = d("Modules");
				Logger.write([Modules, md.value, md.writable, md.configurable, md.enumerable].join(" "));
				delete Modules;
				Logger.write(typeof Modules);
				try { require("asr"); } catch (e) { Logger.write(e.message); }`,
			events: []string{
				// A result for a request made through Engine.command, before
				// Net was first used: left to onPhoneEvent, without a word.
				`{"name":"Net.HttpRequestResult","id":"eng-1","code":200}`,
			},
			wantLogs: []string{
				"true true function true true true true false",
				"5 5 true true false",
				"undefined",
				"module Modules.ASR is not available in Vox",
			},
			wantWarns: []string{"module Modules.ASR is not available in Vox"},
		},
		{
			name: "only the public API is global",
			script: `Logger.write([typeof host, typeof dispatch, typeof Call, typeof ListenerRegistry, typeof Net,
				typeof VoxEngine, typeof AppEvents, typeof CallEvents, typeof Logger, typeof Modules, typeof require].join(" "));
				Logger.write(Object.keys(globalThis).join(","));
				Logger.write([Object.isFrozen(AppEvents), Object.isFrozen(CallEvents), Object.isFrozen(Modules),
					CallEvents.Connected, AppEvents.CallAlerting].join(" "));`,
			wantLogs: []string{
				"undefined undefined undefined undefined object object object object object object function",
				"",
				"true true true Call.Connected Application.CallAlerting",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vm := goja.New()
			host := &fakeHost{}
			dispatch, err := InstallPrelude(vm, host.object(vm))
			if err != nil {
				t.Fatalf("InstallPrelude: %v", err)
			}
			var errs []string
			if _, err := vm.RunString(tt.script); err != nil {
				errs = append(errs, err.Error())
			}
			for _, ev := range tt.events {
				if step, ok := strings.CutPrefix(ev, "run: "); ok {
					if _, err := vm.RunString(step); err != nil {
						errs = append(errs, err.Error())
					}
					continue
				}
				v, err := vm.RunString("(" + ev + ")")
				if err != nil {
					t.Fatalf("event %s: %v", ev, err)
				}
				if _, err := dispatch(goja.Undefined(), v); err != nil {
					errs = append(errs, err.Error())
				}
			}

			if tt.want == nil {
				tt.want = []hostCall{}
			}
			if host.commands == nil {
				host.commands = []hostCall{}
			}
			if !reflect.DeepEqual(host.commands, tt.want) {
				t.Errorf("commands:\n got %#v\nwant %#v", host.commands, tt.want)
			}
			if !equalStrings(host.logs, tt.wantLogs) {
				t.Errorf("logs:\n got %q\nwant %q", host.logs, tt.wantLogs)
			}
			if !equalStrings(host.warns, tt.wantWarns) {
				t.Errorf("warns:\n got %q\nwant %q", host.warns, tt.wantWarns)
			}
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("errors:\n got %q\nwant substrings %q", errs, tt.wantErrs)
			}
			for i, want := range tt.wantErrs {
				if !strings.Contains(errs[i], want) {
					t.Errorf("error %d: got %q, want it to contain %q", i, errs[i], want)
				}
			}
		})
	}
}

// dispatch copies an event for the listeners unless the runtime says the
// object is theirs (owned), so that onPhoneEvent can see it as it came.
func TestDispatchCopiesUnlessOwned(t *testing.T) {
	vm := goja.New()
	host := &fakeHost{}
	dispatch, err := InstallPrelude(vm, host.object(vm))
	if err != nil {
		t.Fatalf("InstallPrelude: %v", err)
	}
	if _, err := vm.RunString(answerFirst + `
		VoxEngine.addEventListener(AppEvents.HttpRequest, (e) => { e.seen = true; });
		VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
			e.call.addEventListener(CallEvents.Connected, (ev) => { ev.seen = ev.call === c; });
		});`); err != nil {
		t.Fatal(err)
	}
	if _, err := dispatch(goja.Undefined(), mustRun(t, vm, "("+alerting+")")); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{`{"name":"Application.HttpRequest"}`, inConnected} {
		for _, owned := range []bool{false, true} {
			v := mustRun(t, vm, "("+ev+")")
			if _, err := dispatch(goja.Undefined(), v, vm.ToValue(owned)); err != nil {
				t.Fatal(err)
			}
			if seen := v.ToObject(vm).Get("seen"); (seen != nil && seen.ToBoolean()) != owned {
				t.Errorf("%s owned=%v: the listeners' changes show in the event: %v", ev, owned, seen)
			}
		}
	}
}

func mustRun(t *testing.T, vm *goja.Runtime, src string) goja.Value {
	t.Helper()
	v, err := vm.RunString(src)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func equalStrings(got, want []string) bool {
	return len(got) == len(want) && (len(got) == 0 || reflect.DeepEqual(got, want))
}

// TestSampleScenario runs the type-checked sample IVR (testdata/tsc/ivr.js)
// through a whole call, so the sample stays a working scenario and not only a
// well-typed one. Timers come from the runtime; here they are stubs.
func TestSampleScenario(t *testing.T) {
	src, err := os.ReadFile("../testdata/tsc/ivr.js")
	if err != nil {
		t.Fatal(err)
	}
	vm := goja.New()
	host := &fakeHost{}
	dispatch, err := InstallPrelude(vm, host.object(vm))
	if err != nil {
		t.Fatalf("InstallPrelude: %v", err)
	}
	if _, err := vm.RunString(`var setTimeout = () => 1, clearTimeout = () => {};`); err != nil {
		t.Fatal(err)
	}
	if _, err := vm.RunScript("ivr.js", string(src)); err != nil {
		t.Fatalf("run ivr.js: %v", err)
	}
	for _, ev := range []string{
		alerting,
		`{"name":"Net.HttpRequestResult","id":"out-1","code":200,` +
			`"text":"{\"portal\":\"b24\",\"welcome\":\"http://media/welcome.mp3\"}","headers":{}}`,
		inConnected,
		`{"name":"Call.ToneReceived","id":"in-1","tone":"1"}`,
		`{"name":"Call.Connected","id":"out-2","headers":{}}`,
		inDisconnected,
	} {
		v, err := vm.RunString("(" + ev + ")")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dispatch(goja.Undefined(), v); err != nil {
			t.Fatalf("dispatch %s: %v", ev, err)
		}
	}
	want := []hostCall{
		cmd("StartAudio", obj{"id": "in-1", "headers": nil}),
		cmd("PlayToneScript", obj{"id": "in-1", "script": "425@-19;*(1/4/1)", "loop": true}),
		cmd("HttpRequest", obj{"id": "out-1", "url": "https://crm.example.com/vox/settings", "method": "POST",
			"headers": obj{"Content-Type": "application/json"}, "postData": `{"number":"74012000000"}`, "timeout": int64(5000)}),
		cmd("SetCustomData", obj{"data": "portal=b24"}),
		cmd("AcceptCall", obj{"id": "in-1", "headers": nil}),
		cmd("Play", obj{"id": "in-1", "url": "http://media/welcome.mp3", "loop": false}),
		cmd("HandleTones", obj{"id": "in-1", "handle": true}),
		cmd("Record", obj{"id": "in-1", "stereo": true}),
		cmd("Stop", obj{"id": "in-1"}),
		cmd("CallUser", obj{"id": "out-2"}, obj{"username": "phone67", "callerid": "79112233444",
			"displayName": "Ivan", "headers": nil, "video": nil}),
		cmd("SendMediaBetween", obj{"id1": "in-1", "id2": "out-2"}),
		cmd("close"),
	}
	if !reflect.DeepEqual(host.commands, want) {
		t.Errorf("commands:\n got %#v\nwant %#v", host.commands, want)
	}
	wantLogs := []string{"incoming 79112233444 -> 74012000000 (ALERTING)", "talked 34s, cost 0"}
	if !reflect.DeepEqual(host.logs, wantLogs) {
		t.Errorf("logs: got %q, want %q", host.logs, wantLogs)
	}
}
