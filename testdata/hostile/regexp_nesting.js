// Two million nested groups in a pattern with a backreference: the regexp parsers
// recurse per group.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const re = new RegExp("(".repeat(2e6) + "a" + ")".repeat(2e6) + "\\1");
  Logger.write(re.test("aa"));
});
