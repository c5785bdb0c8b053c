// A stereo recording of a real conversation: the scenario plays a 1 kHz tone
// script to the caller for 3 s while the caller says 440 Hz. The caller is on the
// left channel, what the caller hears on the right (the Go test checks both with
// sox).
"use strict";

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	call.addEventListener(CallEvents.Connected, () => {
		call.record({ stereo: true });
		Engine.command("PlayToneScript", { id: call.id(), loop: false, script: "1000@-10;1(3/0/1)" });
	});
	call.addEventListener(CallEvents.PlaybackFinished, () => call.stopRecording());
	call.addEventListener(CallEvents.RecordStopped, (ev) => {
		Logger.write(`recorded ${ev.duration} s`);
		call.hangup();
	});
	call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
	call.answer();
});
