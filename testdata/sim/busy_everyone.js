// Every outgoing call is busy with --busy, whatever its destination.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	for (const who of ["phone67", "user67"]) {
		VoxEngine.callUser(who, e.callerid).addEventListener(CallEvents.Failed, (f) => Logger.write(`${who}: ${f.code} ${f.reason}`));
	}
	setTimeout(() => VoxEngine.terminate(), 1000);
});
