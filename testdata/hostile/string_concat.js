// String.prototype.concat with a thousand copies of a 1 MiB string: each argument
// is small, the result is not.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const mib = "x".repeat(1 << 20);
  const parts = new Array(1000).fill(mib);
  Logger.write("".concat(...parts).length);
});
