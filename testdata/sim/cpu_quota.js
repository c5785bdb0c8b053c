// A callback that never returns is interrupted after 1 s of CPU time; the log
// says why and the call is hung up.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.addEventListener(CallEvents.Connected, function spin() {
		while (true) {}
	});
});
