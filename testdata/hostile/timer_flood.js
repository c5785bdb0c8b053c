// Creates timers in a loop: the 101st active timer throws a RangeError.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  for (;;) setTimeout(() => e.call.hangup(), 60000);
});
