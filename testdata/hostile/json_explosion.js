// A value that doubles at each level: 40 levels are a few hundred bytes in memory
// and 2^40 leaves in JSON. The guard makes JSON.stringify call back into JS for
// every value, so the watchdog can stop it.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  let v = [1];
  for (let i = 0; i < 40; i++) v = [v, v];
  Logger.write(JSON.stringify(v).length);
});
