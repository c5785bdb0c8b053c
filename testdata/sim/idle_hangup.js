// With no hang-up in the timeline, the caller hangs up once nothing else can
// happen; the session then idles out a minute after its last call.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  e.call.addEventListener(CallEvents.Disconnected, () => Logger.write("caller left"));
});
