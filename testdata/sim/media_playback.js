// Every kind of playback lasts its real length in virtual time, measured here
// with Date.now() (the session's virtual clock): a local WAV, the same file
// served from an --http route, a URL the simulation has no file for (silence of
// --playback), and a tone script, generated sample by sample. Looping music
// plays until stopped and keeps nothing alive: with nothing else scheduled, the
// caller hangs up over it.
"use strict";

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	const queue = [
		["beep.wav", () => call.startPlayback("beep.wav")],
		["a routed URL", () => call.startPlayback("https://media.example/beep.wav")],
		["an unknown URL", () => call.startPlayback("https://media.example/unknown.mp3")],
		["a tone script", () => Engine.command("PlayToneScript", { id: call.id(), loop: false, script: "425@-10;2(0.3/0.2/1)" })],
	];
	let what = "";
	let started = 0;
	const next = () => {
		const item = queue.shift();
		if (!item) {
			call.startPlayback("beep.wav", { loop: true });
			return;
		}
		[what] = item;
		started = Date.now();
		item[1]();
	};
	call.addEventListener(CallEvents.PlaybackFinished, (ev) => {
		Logger.write(`${what} played ${Date.now() - started} ms${ev.error ? ": " + ev.error : ""}`);
		next();
	});
	call.addEventListener(CallEvents.Connected, next);
	call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
	call.answer();
});
