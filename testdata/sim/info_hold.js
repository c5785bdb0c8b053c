// A PBX's data in SIP INFO, echoed back, and music on hold while the caller
// holds the call.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.answer();
	call.addEventListener(CallEvents.InfoReceived, (i) => {
		Logger.write(`INFO ${i.mimeType}: ${i.body}`);
		call.sendInfo(i.mimeType, `ack ${i.body}`);
	});
	call.addEventListener(CallEvents.OnHold, () => {
		Logger.write("on hold");
		call.playProgressTone("RU");
	});
	call.addEventListener(CallEvents.OffHold, () => {
		Logger.write("off hold");
		call.stopPlayback();
	});
	call.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
});
