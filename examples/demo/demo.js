// The demo application vox serve offers at its first start: call any number
// from one demo phone and it greets you, rings the other demo phone with a
// Russian ringback in your ear, bridges the two of you and records the call.
// If nobody answers within 30 seconds, it says so and hangs up. When the
// other phone holds the call, you hear the ringback until it takes you back.
"use strict";

const DEMO_USERS = ["phone67", "phone68"];
const RING_TIMEOUT_MS = 30000;

// otherPhone picks whom to ring: the user dialled, if it is a demo user, else
// the demo user who is not calling.
function otherPhone(caller, dialled) {
	if (DEMO_USERS.includes(dialled)) return dialled;
	return DEMO_USERS.find((u) => u !== caller) || DEMO_USERS[0];
}

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const caller = e.call;
	let callee = null;
	let giveUp = null;
	let finished = false;

	const finish = () => {
		if (finished) return;
		finished = true;
		clearTimeout(giveUp);
		if (callee && callee.state() !== "TERMINATED") callee.hangup();
		if (caller.state() !== "TERMINATED") caller.hangup();
		VoxEngine.terminate();
	};

	const ring = () => {
		const whom = otherPhone(e.callerid, e.destination);
		Logger.write(`Ringing ${whom} for ${e.callerid}`);
		caller.playProgressTone("RU");
		callee = VoxEngine.callUser({ username: whom, callerid: e.callerid, displayName: e.displayName });
		giveUp = setTimeout(() => callee.hangup(), RING_TIMEOUT_MS);
		callee.addEventListener(CallEvents.Connected, () => {
			clearTimeout(giveUp);
			caller.stopPlayback();
			VoxEngine.sendMediaBetween(caller, callee);
			caller.record({ stereo: true });
		});
		callee.addEventListener(CallEvents.Failed, (f) => {
			Logger.write(`${whom} did not answer: ${f.code} ${f.reason}`);
			caller.say("Nobody answered. Goodbye.");
			caller.addEventListener(CallEvents.PlaybackFinished, finish);
		});
		callee.addEventListener(CallEvents.Disconnected, finish);
		callee.addEventListener(CallEvents.OnHold, () => {
			VoxEngine.stopMediaBetween(caller, callee);
			caller.playProgressTone("RU");
		});
		callee.addEventListener(CallEvents.OffHold, () => {
			caller.stopPlayback();
			VoxEngine.sendMediaBetween(caller, callee);
		});
	};

	caller.addEventListener(CallEvents.Connected, () => {
		caller.say("Welcome to Vox.");
		const greeted = () => {
			caller.removeEventListener(CallEvents.PlaybackFinished, greeted);
			ring();
		};
		caller.addEventListener(CallEvents.PlaybackFinished, greeted);
	});
	caller.addEventListener(CallEvents.RecordStarted, (r) => Logger.write(`Recording: ${r.url}`));
	caller.addEventListener(CallEvents.Disconnected, finish);
	caller.answer();
});
