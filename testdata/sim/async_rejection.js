// Modern JS (async/await, classes, arrow functions) works; an async handler that
// throws without anyone awaiting it is an uncaught error like any other.
class Portal {
	async settings(number) {
		const res = await Net.httpRequestAsync(`https://portal.example/settings/${number}`);
		if (res.code !== 200) throw new Error(`portal answered ${res.code}: ${res.error}`);
		return JSON.parse(res.text);
	}
}

VoxEngine.addEventListener(AppEvents.CallAlerting, async (e) => {
	const portal = new Portal();
	Logger.write("asking the portal");
	const settings = await portal.settings(e.destination);
	Logger.write(`settings: ${settings}`);
});
