// Media that cannot be played ends at once with Call.PlaybackFinished carrying an
// error, and the scenario goes on: a missing local file, a malformed tone script.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	const queue = [
		() => call.startPlayback("missing.wav"),
		() => call.startPlayback("lib.js"),
		() => Engine.command("PlayToneScript", { id: call.id(), loop: false, script: "440@-19;*(2/4)" }),
		() => call.startPlayback("beep.wav", { loop: false }),
	];
	call.addEventListener(CallEvents.PlaybackFinished, (ev) => {
		Logger.write(ev.error ? `playback failed: ${ev.error}` : "playback finished");
		const next = queue.shift();
		if (next) next();
		else call.hangup();
	});
	call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
	call.answer();
	queue.shift()();
});
