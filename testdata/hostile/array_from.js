// Array.from with a huge array-like length constructs through the guarded Array.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const a = Array.from({ length: 1e9 }, (_, i) => i);
  Logger.write(`${a.length}`);
});
