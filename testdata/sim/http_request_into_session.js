// Requests into the running session (S20) arrive as AppEvents.HttpRequest.
VoxEngine.addEventListener(AppEvents.HttpRequest, (e) => {
	const cmd = JSON.parse(e.content);
	Logger.write(`${e.method} ${e.path}: ${cmd.COMMAND}`);
	if (cmd.COMMAND === "hangup") VoxEngine.terminate();
});
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => e.call.answer());
