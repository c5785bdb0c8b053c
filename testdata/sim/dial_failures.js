// CallUser forks to a phone and a web client: the phone is busy (486), the web
// client never answers and is cancelled after 10 s (487); then CallSIP with the
// old positional form fails 404, and a forward with callSIP's parameter form
// answers.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
	const caller = e.call;
	caller.answer();
	const phone = VoxEngine.callUser("phone67", caller.callerid());
	const web = VoxEngine.callUser({ username: "user67", callerid: caller.callerid(), displayName: "Sales" });
	for (const c of [phone, web]) {
		c.addEventListener(CallEvents.Failed, (f) => Logger.write(`${f.call.id() === phone.id() ? "phone" : "web"} failed: ${f.code} ${f.reason}`));
	}
	const giveUp = setTimeout(() => {
		web.hangup();
		const sip = VoxEngine.callSIP("sip:nobody@pbx.example", caller.callerid(), "Sales", null, null);
		sip.addEventListener(CallEvents.Failed, (f) => {
			Logger.write(`sip failed: ${f.code} ${f.reason}`);
			const fwd = VoxEngine.callSIP("sip:desk@pbx.example", { callerid: caller.callerid(), extraHeaders: { "X-Forwarded": "yes" } });
			fwd.addEventListener(CallEvents.Connected, () => {
				VoxEngine.sendMediaBetween(caller, fwd);
				setTimeout(() => VoxEngine.terminate(), 5000);
			});
		});
	}, 10000);
	web.addEventListener(CallEvents.Connected, () => clearTimeout(giveUp));
});
