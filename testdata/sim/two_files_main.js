// The second file of a rule uses what the first declared: files of one rule share
// one global scope, in the rule's order.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	Logger.write(greetingFor(new Date().getUTCHours()));
	e.call.answer();
	e.call.addEventListener(CallEvents.Connected, () => e.call.startPlayback("beep.wav"));
	e.call.addEventListener(CallEvents.PlaybackFinished, () => e.call.hangup());
	e.call.addEventListener(CallEvents.Disconnected, VoxEngine.terminate);
});
