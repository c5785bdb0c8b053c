// A bridge carries real audio: user67 answers and says 1 kHz, the scenario
// connects it with the caller and records the caller's side of the call, mono
// (both directions mixed), for 2 s (the Go test checks the frequency with sox).
"use strict";

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const caller = e.call;
	caller.answer();
	caller.addEventListener(CallEvents.Connected, () => {
		const operator = VoxEngine.callUser({ username: "user67", callerid: caller.callerid() });
		operator.addEventListener(CallEvents.Connected, () => {
			VoxEngine.sendMediaBetween(caller, operator);
			caller.record();
			setTimeout(() => caller.stopRecording(), 2000);
		});
		caller.addEventListener(CallEvents.RecordStopped, (ev) => {
			Logger.write(`recorded ${ev.duration} s`);
			operator.hangup();
			caller.hangup();
		});
	});
	caller.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
});
