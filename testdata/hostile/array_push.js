// A 2e7-element array built by a push loop: JS code, so the memory watchdog's
// interrupt lands between pushes.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  e.call.addEventListener(CallEvents.Connected, () => {
    const a = [];
    for (let i = 0; i < 2e7; i++) a.push({ i });
    Logger.write(`pushed ${a.length}`);
  });
});
