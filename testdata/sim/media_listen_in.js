// A supervisor listens in: the caller (600 Hz) and user67 (1 kHz) are bridged,
// and user69 hears the caller, one way (sendMediaTo). Recorded in stereo, each
// call's far end on the left and what it hears on the right: user69 for 2 s
// while it listens, then for 1 s after stopMediaTo, and the caller, who still
// hears user67 (the Go test checks the frequencies with sox).
"use strict";

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const caller = e.call;
	caller.answer();
	caller.addEventListener(CallEvents.Connected, () => {
		const operator = VoxEngine.callUser({ username: "user67", callerid: caller.callerid() });
		operator.addEventListener(CallEvents.Connected, () => {
			VoxEngine.sendMediaBetween(caller, operator);
			const supervisor = VoxEngine.callUser({ username: "user69", callerid: caller.callerid() });
			supervisor.addEventListener(CallEvents.Connected, () => {
				caller.sendMediaTo(supervisor);
				supervisor.record({ stereo: true });
				caller.record({ stereo: true });
				setTimeout(() => {
					supervisor.stopRecording();
					caller.stopRecording();
				}, 2000);
			});
			let recordings = 0;
			supervisor.addEventListener(CallEvents.RecordStopped, () => {
				recordings++;
				if (recordings === 1) {
					caller.stopMediaTo(supervisor);
					supervisor.record({ stereo: true });
					setTimeout(() => supervisor.stopRecording(), 1000);
					return;
				}
				supervisor.hangup();
				operator.hangup();
				caller.hangup();
			});
		});
	});
	caller.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
});
