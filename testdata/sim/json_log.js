// The session log as JSON lines (--json): the same happenings, machine-readable.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	Logger.write("answered\nsecond line");
	e.call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
});
