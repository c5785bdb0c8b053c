// Answers every call, plays a greeting and hangs up after it.
VoxEngine.addEventListener(AppEvents.CallAlerting, function (e) {
	e.call.answer();
	e.call.say("Hello, you have reached the office");
	e.call.addEventListener(CallEvents.PlaybackFinished, function () {
		e.call.hangup();
	});
});
