// A transfer the scenario leaves unanswered: the operator's phone gives up
// waiting for its outcome after a minute (408) and keeps the caller; the
// scenario's answer after that goes nowhere, and its log says why.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const caller = e.call;
	const desk = VoxEngine.callUser({ username: "phone68", callerid: e.callerid });
	desk.addEventListener(CallEvents.Connected, () => {
		caller.answer();
		VoxEngine.sendMediaBetween(caller, desk);
		desk.handleBlindTransfer(true);
	});
	desk.addEventListener(CallEvents.BlindTransferRequested, (t) => {
		Logger.write(`transfer to ${t.transferTo}: asking the supervisor first`);
		setTimeout(() => t.call.notifyBlindTransferSuccess(), 90000);
	});
	caller.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
});
