// The Function constructor, reached through any function, is refused as eval is.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const F = (() => {}).constructor;
  Logger.write(F("return 1")());
});
