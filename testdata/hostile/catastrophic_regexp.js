// A backreference sends the pattern to regexp2, goja's backtracking engine, where
// (a+)+ on forty a's and a b takes exponential time in one native call that an
// interrupt cannot reach. regexp2's match timeout ends it.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  e.call.addEventListener(CallEvents.Connected, () => {
    const matched = /^(a+)+\1?$/.test("a".repeat(40) + "b");
    Logger.write(`matched: ${matched}`);
  });
});
