// Digits the caller presses reach the scenario through a real DTMF detector:
// the simulation sends them as in-band tones (100 ms each, 70 ms apart) in place
// of what the caller says (here a 440 Hz hum), and the detector reports each
// about 40 ms after it starts. A digit sent as an RFC 4733 event (the timeline's
// "rfc4733": true) arrives at once.
"use strict";

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const call = e.call;
	const start = Date.now();
	call.answer();
	call.handleTones(true);
	call.addEventListener(CallEvents.ToneReceived, (ev) => Logger.write(`tone ${ev.tone} at ${Date.now() - start} ms`));
	call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
});
