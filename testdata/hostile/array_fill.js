// A 2e7-element array filled in one call: the Array guard refuses the length.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  e.call.addEventListener(CallEvents.Connected, () => {
    const a = new Array(2e7).fill(0);
    Logger.write(`filled ${a.length}`);
  });
});
