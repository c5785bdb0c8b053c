// Answers every call and plays a greeting.
VoxEngine.addEventListener(AppEvents.CallAlerting, function (e) {
	e.call.answer();
	e.call.say("Hello");
});
