// Answers, then spins forever in the Connected handler: the watchdog interrupts
// the callback after 1 s of CPU time.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  e.call.addEventListener(CallEvents.Connected, function spin() {
    for (;;) {}
  });
});
