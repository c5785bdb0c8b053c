// eval of three million parentheses would overflow the Go stack in goja's parser;
// code generation from strings is refused.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  Logger.write(eval("(".repeat(3e6) + "1" + ")".repeat(3e6)));
});
