// $` copies everything before each match: quadratic output from one replace.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const text = "a".repeat(100000);
  Logger.write(text.replace(/a/g, "$`").length);
});
