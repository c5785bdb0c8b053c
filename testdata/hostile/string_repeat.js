// Asks one builtin for 256 Mi characters: the guard refuses before it allocates.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const s = "x".repeat(256 * 1024 * 1024);
  Logger.write(`built ${s.length} characters`);
});
