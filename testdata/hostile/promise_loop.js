// An async loop that only awaits: goja runs the microtasks inside the callback,
// so the CPU watchdog sees and stops them.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  e.call.addEventListener(CallEvents.Connected, () => {
    (async function spin() {
      for (;;) await null;
    })();
  });
});
