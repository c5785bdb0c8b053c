// One padEnd call asking for 2^30 characters.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  Logger.write("a".padEnd(2 ** 30).length);
});
