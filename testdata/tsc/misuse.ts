// Mistakes the types must catch; each line below must be an error, or tsc
// fails on the unused @ts-expect-error.

// @ts-expect-error: not implemented in Vox, so not a constant here.
VoxEngine.addEventListener(AppEvents.NewWebSocketFailed, () => {});

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  // @ts-expect-error: CallEvents.ReInviteReceived is not implemented in Vox.
  e.call.addEventListener(CallEvents.ReInviteReceived, () => {});
  // @ts-expect-error: a Connected event has no SIP status code.
  e.call.addEventListener(CallEvents.Connected, (ev) => Logger.write(ev.code));
  // @ts-expect-error: the loop flag is a boolean or {loop}.
  e.call.startPlayback("https://media.example.com/a.mp3", "yes");
  // @ts-expect-error: callUser needs a user name.
  VoxEngine.callUser({ callerid: "7495" });
  // @ts-expect-error: bridging needs two calls.
  VoxEngine.sendMediaBetween(e.call, "out-1");
  // @ts-expect-error: a call listens to another call, not to its id.
  e.call.sendMediaTo("out-1");
  // @ts-expect-error: easyProcess joins two calls.
  VoxEngine.easyProcess(e.call, "out-1");
});

// @ts-expect-error: Call is a type, not something a scenario constructs.
new Call();

// @ts-expect-error: not one of the Modules constants.
require("acd2");

// @ts-expect-error: the result's headers are a list of {key, value}.
Net.httpRequestAsync("https://x.example.com/").then((r) => r.headers["Content-Type"]);

VoxEngine.addEventListener(AppEvents.HttpRequest, (e) => {
  // @ts-expect-error: the request body is content, a string.
  return e.body;
});

// @ts-expect-error: zonedTime needs an IANA zone name, not an offset in minutes.
VoxEngine.zonedTime(180);
// @ts-expect-error: the weekday is a number (0 = Sunday), not a name.
const weekday: string = VoxEngine.zonedTime("Europe/Moscow").weekday;
