// Misuse of the engine protocol is thrown into the scenario as a TypeError it can
// catch; unknown modules and event constants are clear errors too.
function onPhoneEvent(e) {
	if (e.name !== "Application.CallAlerting") return;
	for (const attempt of [
		() => Engine.command("NoSuchCommand", {}),
		() => Engine.command("AcceptCall", { id: "not-a-call" }),
		() => Engine.command("Play", { id: e.id }),
		() => Engine.command("CallUser", { id: "x" }),
		() => require(Modules.Conference),
		() => VoxEngine.addEventListener(AppEvents.NoSuchEvent, () => {}),
	]) {
		try {
			attempt();
		} catch (err) {
			Logger.write(`refused: ${err}`);
		}
	}
	Engine.command("HangupCall", { id: e.id, code: 486, headers: null });
	Engine.command("close");
}
