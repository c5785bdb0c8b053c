// Unbounded recursion: goja's call-stack limit throws a RangeError.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const down = (n) => down(n + 1) + 1;
  Logger.write(down(0));
});
