// Builds a 256 MiB string by doubling: each step is one native concatenation,
// and the watchdog sees the heap grow past the session's budget between them.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  e.call.addEventListener(CallEvents.Connected, function grow() {
    let s = "x";
    while (s.length < 256 * 1024 * 1024) s += s;
    Logger.write(`built ${s.length} characters`);
  });
});
