// The Vox softphone: JsSIP over the server's /ws (SIP over WebSocket, RFC
// 7118), media over WebRTC straight to the server. One call at a time.
"use strict";

import * as JsSIP from "jssip";

// How often the quality meter goes to the scenario as an in-call MESSAGE, as
// the seed's web client sends it: {"COMMAND":"meter","PERCENT":100,"GRADE":5}.
const METER_EVERY_MS = 5000;
// RFC 4733 events through the browser's RTCDTMFSender.
const DTMF_OPTIONS = { transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833, duration: 160, interToneGap: 70 };
const MEDIA = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };

const $ = (id) => document.getElementById(id);

const phone = {
	ua: null,
	session: null,
	login: "",
	peer: "", // who the call is with
	held: false,
	muted: false,
	connectedAt: 0,
	timer: 0,
	meter: 0,
	metersSent: 0,
	lastMeter: null,
	lastError: "",
	audio: null, // AudioContext, made on the sign-in click (a user gesture)
	analyser: null,
};

function setState(name, status) {
	document.body.dataset.state = name;
	if (status !== undefined) setStatus(status);
}

function setStatus(text, error = false) {
	const el = $("status");
	el.textContent = text;
	el.classList.toggle("error", error);
	if (error) phone.lastError = text;
}

function state() {
	return document.body.dataset.state;
}

// Signing in registers the user over the WebSocket of the page's own host.
function signIn(event) {
	event.preventDefault();
	const login = $("login").value.trim();
	const password = $("password").value;
	if (!login || !password) return;
	phone.audio = phone.audio || new AudioContext();
	phone.audio.resume();
	phone.login = login;
	const scheme = location.protocol === "https:" ? "wss:" : "ws:";
	const socket = new JsSIP.WebSocketInterface(`${scheme}//${location.host}/ws`);
	const ua = new JsSIP.UA({
		sockets: [socket],
		uri: `sip:${login}@${location.hostname}`,
		authorization_user: login,
		password,
		register: true,
		register_expires: 300,
		user_agent: "Vox phone (JsSIP)",
		connection_recovery_min_interval: 2,
		connection_recovery_max_interval: 30,
	});
	ua.on("connecting", () => setStatus("Connecting…"));
	ua.on("disconnected", () => {
		if (phone.ua === ua && state() !== "signed-out") setStatus("Connection lost; reconnecting…", true);
	});
	ua.on("registered", () => {
		$("who").textContent = `Signed in as ${login}`;
		if (!phone.session) setState("registered", "Ready");
	});
	ua.on("unregistered", () => {
		if (phone.ua === ua && state() !== "signed-out") setStatus("Not registered", true);
	});
	ua.on("registrationFailed", (e) => {
		const wrong = e.cause === JsSIP.C.causes.AUTHENTICATION_ERROR || e.cause === JsSIP.C.causes.REJECTED;
		stopUA();
		setState("failed");
		setStatus(wrong ? "Wrong login or password" : `Registration failed: ${e.cause}`, true);
	});
	ua.on("newRTCSession", (e) => {
		if (phone.session && phone.session !== e.session) {
			e.session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
			return;
		}
		track(e.session, e.originator);
	});
	phone.ua = ua;
	setState("registering", "Signing in…");
	ua.start();
}

function stopUA() {
	const ua = phone.ua;
	phone.ua = null;
	if (ua) ua.stop();
}

function signOut() {
	stopUA();
	$("password").value = "";
	setState("signed-out", "Signed out");
}

function call() {
	const target = $("number").value.trim();
	if (!target || !phone.ua || phone.session) return;
	phone.ua.call(`sip:${target}@${location.hostname}`, MEDIA);
}

// track follows a call, ours or the server's, until it ends.
function track(session, originator) {
	phone.session = session;
	phone.held = false;
	phone.muted = false;
	updateToggles();
	session.on("peerconnection", (e) => watchRemote(e.peerconnection));
	if (session.connection) watchRemote(session.connection);
	if (originator === "remote") {
		const who = session.remote_identity;
		phone.peer = who.display_name || who.uri.user;
		$("caller").textContent = phone.peer;
		setState("incoming", "Incoming call");
	} else {
		phone.peer = $("number").value.trim();
		setState("calling", `Calling ${phone.peer}…`);
		session.on("progress", () => setStatus("Ringing…"));
	}
	session.on("confirmed", () => {
		phone.connectedAt = Date.now();
		setState("in-call", `In call with ${phone.peer}`);
		tick();
		phone.timer = setInterval(tick, 1000);
		phone.meter = setInterval(sendMeter, METER_EVERY_MS);
	});
	session.on("hold", (e) => {
		if (e.originator === "local") phone.held = true;
		if (e.originator === "local") setState("on-hold", "On hold");
		updateToggles();
	});
	session.on("unhold", (e) => {
		if (e.originator === "local") phone.held = false;
		if (e.originator === "local") setState("in-call", `In call with ${phone.peer}`);
		updateToggles();
	});
	session.on("muted", () => { phone.muted = true; updateToggles(); });
	session.on("unmuted", () => { phone.muted = false; updateToggles(); });
	session.on("ended", (e) => finished(session, e.originator === "local" ? "Call ended" : "The other side hung up"));
	session.on("failed", (e) => {
		if (originator === "remote" && e.cause === JsSIP.C.causes.CANCELED) {
			// The caller gave up, or another of the user's phones answered
			// (RFC 3326 Reason cause=200, which Vox sends then).
			const reason = (e.message && e.message.getHeader("Reason")) || "";
			const elsewhere = /cause\s*=\s*200\b/.test(reason);
			finished(session, elsewhere ? "Answered on another device" : `Missed call from ${phone.peer}`);
			return;
		}
		finished(session, `Call failed: ${e.cause}`, e.originator !== "local");
	});
}

function finished(session, text, error = false) {
	if (phone.session !== session) return;
	phone.session = null;
	clearInterval(phone.timer);
	clearInterval(phone.meter);
	phone.analyser = null;
	$("remote").srcObject = null;
	$("timer").textContent = "00:00";
	setState(phone.ua ? "registered" : "signed-out");
	setStatus(text, error);
}

// watchRemote plays what the far end sends and feeds an analyser, which the
// page's tests read (window.voxPhone.remoteTone).
function watchRemote(pc) {
	pc.addEventListener("track", (e) => {
		const stream = e.streams[0] || new MediaStream([e.track]);
		$("remote").srcObject = stream;
		if (!phone.audio) return;
		const analyser = phone.audio.createAnalyser();
		analyser.fftSize = 4096;
		analyser.smoothingTimeConstant = 0; // what is heard now, not an average
		phone.audio.createMediaStreamSource(stream).connect(analyser);
		phone.analyser = analyser;
	});
}

function tick() {
	const s = Math.floor((Date.now() - phone.connectedAt) / 1000);
	$("timer").textContent = `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function updateToggles() {
	$("hold").textContent = phone.held ? "Unhold" : "Hold";
	$("hold").setAttribute("aria-pressed", String(phone.held));
	$("mute").textContent = phone.muted ? "Unmute" : "Mute";
	$("mute").setAttribute("aria-pressed", String(phone.muted));
}

function key(digit) {
	const s = phone.session;
	if (s && s.isEstablished()) {
		s.sendDTMF(digit, DTMF_OPTIONS);
		return;
	}
	$("number").value += digit;
}

// quality turns what the browser measures into the meter's PERCENT (packets
// that arrived) and GRADE (5 best, 1 worst): the E-model's rating R (ITU-T
// G.107, simplified for G.711 with the loss concealment browsers do; delay
// and loss impair it) in the user satisfaction bands of ITU-T G.109 (90,
// 80, 70, 60). A clean call is {"PERCENT":100,"GRADE":5}, as in the seed.
function quality(stats) {
	const received = stats.packetsReceived || 0;
	const lost = Math.max(0, stats.packetsLost || 0);
	const loss = received + lost > 0 ? lost / (received + lost) : 0;
	const delayMs = (stats.roundTripTime || 0) * 500 + (stats.jitter || 0) * 1000 * 2 + 20;
	const id = 0.024 * delayMs + (delayMs > 177.3 ? 0.11 * (delayMs - 177.3) : 0);
	const ie = 95 * (loss * 100) / (loss * 100 + 25.1); // G.113: Ie 0, Bpl 25.1 for G.711 with PLC
	const r = 93.2 - id - ie;
	const grade = r >= 90 ? 5 : r >= 80 ? 4 : r >= 70 ? 3 : r >= 60 ? 2 : 1;
	return { PERCENT: Math.round(100 * (1 - loss)), GRADE: grade };
}

// inbound is what the browser counts of the far end's audio in the call.
async function inbound() {
	const s = phone.session;
	const figures = { packetsReceived: 0, bytesReceived: 0, packetsLost: 0 };
	if (!s || !s.connection) return figures;
	(await s.connection.getStats()).forEach((r) => {
		if (r.type === "inbound-rtp" && r.kind === "audio") {
			figures.packetsReceived = r.packetsReceived;
			figures.bytesReceived = r.bytesReceived;
			figures.packetsLost = r.packetsLost;
			figures.jitter = r.jitter;
		}
		if (r.type === "remote-inbound-rtp" && r.kind === "audio" && r.roundTripTime !== undefined) {
			figures.roundTripTime = r.roundTripTime;
		}
	});
	return figures;
}

async function sendMeter() {
	const s = phone.session;
	if (!s || !s.isEstablished() || !s.connection) return;
	const meter = { COMMAND: "meter", ...quality(await inbound()) };
	s.sendRequest(JsSIP.C.MESSAGE, {
		extraHeaders: ["Content-Type: application/json"],
		body: JSON.stringify(meter),
	});
	phone.metersSent++;
	phone.lastMeter = meter;
}

// remoteTone is the loudest frequency of what the far end sends now, and
// its level (RMS, 0-1), from the analyser.
function remoteTone() {
	const a = phone.analyser;
	if (!a) return { freq: 0, rms: 0 };
	const spectrum = new Float32Array(a.frequencyBinCount);
	a.getFloatFrequencyData(spectrum);
	let peak = 0;
	for (let i = 1; i < spectrum.length; i++) if (spectrum[i] > spectrum[peak]) peak = i;
	const wave = new Float32Array(a.fftSize);
	a.getFloatTimeDomainData(wave);
	let sum = 0;
	for (const v of wave) sum += v * v;
	return { freq: (peak * a.context.sampleRate) / a.fftSize, rms: Math.sqrt(sum / wave.length) };
}

function wire() {
	$("signin").addEventListener("submit", signIn);
	$("signout").addEventListener("click", signOut);
	$("call").addEventListener("click", call);
	$("number").addEventListener("keydown", (e) => { if (e.key === "Enter") call(); });
	$("backspace").addEventListener("click", () => { $("number").value = $("number").value.slice(0, -1); });
	$("keypad").addEventListener("click", (e) => { if (e.target.dataset.key) key(e.target.dataset.key); });
	$("answer").addEventListener("click", () => {
		if (phone.session) phone.session.answer(MEDIA);
		setStatus("Answering…");
	});
	$("decline").addEventListener("click", () => {
		if (phone.session) phone.session.terminate({ status_code: 603, reason_phrase: "Decline" });
	});
	$("hangup").addEventListener("click", () => { if (phone.session) phone.session.terminate(); });
	$("hold").addEventListener("click", () => {
		const s = phone.session;
		if (!s) return;
		if (phone.held) s.unhold(); else s.hold();
	});
	$("mute").addEventListener("click", () => {
		const s = phone.session;
		if (!s) return;
		if (phone.muted) s.unmute({ audio: true }); else s.mute({ audio: true });
	});
	updateToggles();
}

// What the page's tests (and a curious developer's console) read.
window.voxPhone = {
	state: () => ({
		state: state(), status: $("status").textContent, lastError: phone.lastError,
		held: phone.held, muted: phone.muted, metersSent: phone.metersSent, lastMeter: phone.lastMeter,
	}),
	remoteTone,
	inbound,
	quality,
};

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
else wire();
