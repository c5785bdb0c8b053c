// A small IVR on the VoxEngine layer: early media with a progress tone, answer,
// speech, a DTMF menu, a recorded call to a PSTN number, in-call messages and
// digits sent to the far end, and custom data.
"use strict";

class Menu {
	constructor(call) {
		this.call = call;
		this.choice = "";
	}
	start() {
		this.call.handleTones(true);
		this.call.say("Press one for sales, two for support");
	}
}

VoxEngine.addEventListener(AppEvents.Started, (e) => {
	Logger.write(`session ${e.sessionId} custom data ${VoxEngine.customData()}`);
});

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const caller = e.call;
	const menu = new Menu(caller);
	Logger.write(`call from ${caller.callerid()} to ${caller.number()} (${caller.state()})`);
	caller.startEarlyMedia();
	caller.playProgressTone("RU");
	setTimeout(() => caller.answer({ "X-Vox-Test": "1" }), 3000);

	caller.addEventListener(CallEvents.Connected, () => {
		caller.stopPlayback();
		menu.start();
	});
	caller.addEventListener(CallEvents.ToneReceived, async (ev) => {
		menu.choice += ev.tone;
		Logger.write(`tone ${ev.tone}`);
		if (ev.tone !== "#") return;
		caller.handleTones(false);
		const number = menu.choice.startsWith("1") ? "74951112233" : "74954445566";
		VoxEngine.customData(`menu=${menu.choice}`);
		const out = VoxEngine.callPSTN(number, caller.number());
		out.addEventListener(CallEvents.Ringing, () => caller.startPlayback("https://media.example/wait.mp3", true));
		out.addEventListener(CallEvents.Connected, () => {
			caller.stopPlayback();
			VoxEngine.sendMediaBetween(caller, out);
			caller.record({ stereo: true });
			out.sendDigits("12#");
			caller.sendMessage(JSON.stringify({ COMMAND: "meter" }));
			setTimeout(() => caller.stopRecording(), 5000);
		});
		out.addEventListener(CallEvents.Disconnected, (d) => {
			Logger.write(`operator left after ${d.duration} s`);
			caller.hangup();
		});
	});
	caller.addEventListener(CallEvents.RecordStarted, (ev) => Logger.write(`recording to ${ev.url}`));
	caller.addEventListener(CallEvents.RecordStopped, (ev) => Logger.write(`recorded ${ev.duration} s`));
	caller.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());
});

VoxEngine.addEventListener(AppEvents.Terminating, () => Logger.write(`custom data at the end: ${VoxEngine.customData()}`));
