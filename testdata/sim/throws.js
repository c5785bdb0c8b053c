// A scenario that throws in an event handler: the error is logged with
// file:line:column and its stack, and the call is hung up cleanly.
function parseSettings(text) {
	return JSON.parse(text).settings.queue;
}

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	e.call.answer();
	e.call.addEventListener(CallEvents.Connected, () => {
		const queue = parseSettings('{"other": 1}');
		Logger.write("never reached " + queue);
	});
});
