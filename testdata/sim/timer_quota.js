// Timers created in a loop: the 101st active timer throws a RangeError, which is
// uncaught here, so the session fails and the call is hung up.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	for (let i = 0; ; i++) {
		setTimeout(() => Logger.write("tick " + i), 60000);
	}
});
