// Modern JS on the VoxEngine layer: async/await over Net.httpRequestAsync answered
// from a file, destructuring, template strings, Map, Promise.all, classes with
// private fields, and the callback form Net.httpRequest.
class Counter {
	#n = 0;
	next() { return ++this.#n; }
}
const counter = new Counter();

VoxEngine.addEventListener(AppEvents.CallAlerting, async ({ call, callerid }) => {
	const [a, b] = await Promise.all([
		Net.httpRequestAsync("https://portal.example/settings/1"),
		Net.httpRequestAsync("https://portal.example/settings/2", { method: "POST", postData: "x=1", headers: { "X-Sign": "abc" } }),
	]);
	const { queue = [], greeting } = JSON.parse(a.text);
	const seen = new Map(queue.map((u) => [u, counter.next()]));
	Logger.write(`${callerid}: ${greeting}; queue ${[...seen].map(([u, n]) => `${n}:${u}`).join(", ")}; second ${b.code}`);
	Net.httpRequest("https://elsewhere.example/", (r) => {
		Logger.write(`callback form: code ${r.code}, error: ${r.error}`);
		call.reject(486);
		VoxEngine.terminate();
	});
});
