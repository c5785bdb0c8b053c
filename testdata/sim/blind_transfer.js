// A desk phone's transfer key: phone68 sends the caller on. A transfer to a
// busy line is reported back to phone68, which keeps the call; one that is
// answered ends phone68's call, and the caller talks to the new callee.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const caller = e.call;
	const desk = VoxEngine.callUser({ username: "phone68", callerid: e.callerid });
	desk.addEventListener(CallEvents.Connected, () => {
		caller.answer();
		VoxEngine.sendMediaBetween(caller, desk);
		desk.handleBlindTransfer(true);
	});
	desk.addEventListener(CallEvents.BlindTransferRequested, (t) => {
		Logger.write(`transfer to ${t.transferTo} (${t.headers["Refer-To"]})`);
		const next = VoxEngine.callUser({ username: t.transferTo, callerid: e.callerid });
		next.addEventListener(CallEvents.Connected, () => {
			t.call.notifyBlindTransferSuccess();
			VoxEngine.sendMediaBetween(caller, next);
		});
		next.addEventListener(CallEvents.Failed, (f) => t.call.notifyBlindTransferFailed(f.code, f.reason));
	});
	desk.addEventListener(CallEvents.Disconnected, () => Logger.write("phone68 hung up"));
	caller.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
});
