// The seed's incoming-call scenario (S12), written against the engine protocol the
// seed's log shows: every event arrives in onPhoneEvent and every action is a
// command. It fetches the number's settings from the portal, greets the caller,
// waits for a direct code, asks the portal whom to ring, rings that user's phone
// and web client, bridges and records the call, and puts it on hold when the
// user's client asks (S20). Run it with `make run`.
"use strict";

var PORTAL = "https://portal.example/telephony";
var DIRECT_CODE_WAIT_MS = 2000;
var LINE = "------------------------------------------------------------------------------------------";

var session = {};     // Application.Started params
var call = null;      // the caller: {id, callerid, destination, displayName}
var config = null;    // the portal's settings for the dialled number
var operator = null;  // the call that reached a user
var pending = {};     // HTTP requests in flight: id -> handler
var invites = [];     // outgoing calls still ringing
var state = { userId: 0, onHold: false, recordUrl: "", connectedAt: 0, digits: "" };

function block() {
	var lines = Array.prototype.slice.call(arguments);
	Logger.write(["", LINE].concat(lines, [LINE, ""]).join("\n"));
}

// request sends one HTTP request through the engine protocol and routes its result.
function request(method, url, body, onResult) {
	var id = Engine.newCallId();
	pending[id] = onResult || function () {};
	Engine.command("HttpRequest", { id: id, url: url, method: method, headers: null, postData: body || null, timeout: 10000 });
}

function form(params) {
	return Object.keys(params).map(function (k) { return k + "=" + params[k]; }).join("&");
}

function dial(username) {
	var id = Engine.newCallId();
	Engine.command("CallUser", { id: id }, { callerid: call.callerid, displayName: null, headers: null, username: username, video: null });
	invites.push(id);
	return id;
}

function onPhoneEvent(e) {
	switch (e.name) {
	case "Application.Started":
		session = e;
		return;
	case "Application.CallAlerting":
		return alerting(e);
	case "Net.HttpRequestResult":
		var handler = pending[e.id];
		delete pending[e.id];
		if (handler) handler(e);
		return;
	case "Application.HttpRequest":
		return portalCommand(JSON.parse(e.content));
	}
	if (call && e.id === call.id) return callerEvent(e);
	return operatorEvent(e);
}

function alerting(e) {
	call = { id: e.id, callerid: e.callerid, destination: e.destination, displayName: e.displayName };
	Engine.command("SetCustomData", { data: e.id });
	Engine.command("StartAudio", { headers: null, id: e.id });
	Engine.command("PlayToneScript", { id: e.id, loop: true, script: "440@-19,480@-19;*(2/4/1+2)" });
	block("Start INCOMING scenario (version: 9)");
	block("Pure variables", "Call scenario user: " + session.userId, "Call callerId: " + e.callerid);
	Logger.write("Call destination: " + e.destination);
	Logger.write("Call displayName: " + e.displayName);
	Logger.write("Call number/destination: " + e.destination);
	Logger.write(LINE + "\n");
	request("GET", PORTAL + "/config?number=" + e.destination, null, gotConfig);
}

function gotConfig(res) {
	if (res.code !== 200) {
		block("Cannot get B24 config: " + (res.error || res.code));
		Engine.command("HangupCall", { code: 480, headers: null, id: call.id });
		return;
	}
	config = JSON.parse(res.text);
	var shown = Object.keys(config).filter(function (k) { return k !== "PORTAL_SIGN"; })
		.map(function (k) { return k + ": " + config[k]; }).join(" / ");
	block("Get B24 config:", shown, "PORTAL_SIGN: -hidden-");
	block("Call type is: " + (config.SEARCH_ID === "test" ? "TEST CALL" : "INCOMING CALL"),
		"Phone number: " + call.destination, "Call to: " + call.displayName);
	if (config.BLACKLIST && config.BLACKLIST.indexOf(call.callerid) >= 0) {
		block("Caller " + call.callerid + " is blacklisted");
		Engine.command("HangupCall", { code: 603, headers: null, id: call.id });
		return;
	}
	Logger.write("Call in correct worktime");
	Logger.write(LINE + "\n");
	Engine.command("AcceptCall", { headers: null, id: call.id });
	Engine.command("Play", { id: call.id, loop: false, url: config.MELODY_WELCOME });
	Engine.command("HandleTones", { handle: true, id: call.id });
}

function callerEvent(e) {
	switch (e.name) {
	case "Call.PlaybackFinished":
		if (state.onHold || operator) return;
		Engine.command("Stop", { id: call.id });
		setTimeout(directCode, DIRECT_CODE_WAIT_MS);
		return;
	case "Call.ToneReceived":
		state.digits += e.tone;
		return;
	case "Call.RecordStarted":
		state.recordUrl = e.url;
		var start = { COMMAND: "StartCall", CALL_ID: call.id, CALL_DEVICE: "WEBRTC", EXTERNAL: "N", USER_ID: state.userId };
		block("Send CallStart: " + form(start));
		request("POST", PORTAL + "/event", form(start));
		block("Start recording call: " + e.url);
		return;
	case "Call.Disconnected":
		return callerGone(e);
	case "Call.RecordStopped":
		Engine.command("close");
		return;
	}
}

function directCode() {
	Engine.command("HandleTones", { handle: false, id: call.id });
	block("Direct code is: " + (state.digits || "none"));
	Engine.command("Play", { id: call.id, loop: true, url: config.MELODY_WAIT });
	request("POST", PORTAL + "/invite", form({ CALL_ID: call.id, DIRECT_CODE: state.digits }), function (res) {
		block("Get B24 invite answer: " + res.text);
		var answer = JSON.parse(res.text);
		state.userId = Number(answer.USER_ID);
		block("Action: Send invite to phone" + answer.USER_ID, "from number: " + call.destination);
		dial("phone" + answer.USER_ID);
	});
}

function portalCommand(cmd) {
	block("Get command from B24 portal: " + JSON.stringify(cmd));
	if (cmd.COMMAND === "user" && !operator) {
		block("Action: Connect to user" + cmd.USER_ID, "from number: " + call.destination);
		dial("user" + cmd.USER_ID);
	}
}

function operatorEvent(e) {
	switch (e.name) {
	case "Call.Connected":
		if (operator) return;
		operator = e.id;
		state.connectedAt = Date.now();
		invites.filter(function (id) { return id !== e.id; }).forEach(function (id) {
			Engine.command("HangupCall", { code: 302, headers: null, id: id });
		});
		Engine.command("SendMediaBetween", { id1: e.id, id2: call.id });
		Engine.command("Record", { id: call.id, stereo: config.RECORDING_STEREO === "Y" });
		return;
	case "Call.MessageReceived":
		block("Get command from B24 user: " + e.text);
		return userCommand(JSON.parse(e.text));
	case "Call.Disconnected":
		if (e.id === operator) Engine.command("HangupCall", { code: 603, headers: null, id: call.id });
		return;
	}
}

function userCommand(cmd) {
	if (cmd.COMMAND === "hold" && !state.onHold) {
		state.onHold = true;
		Engine.command("StopMediaBetween", { id1: call.id, id2: operator });
		Engine.command("Stop", { id: call.id });
		Engine.command("Play", { id: call.id, loop: true, url: config.MELODY_HOLD });
	} else if (cmd.COMMAND === "unhold" && state.onHold) {
		state.onHold = false;
		Engine.command("Stop", { id: operator });
		Engine.command("Stop", { id: call.id });
		Engine.command("SendMediaBetween", { id1: call.id, id2: operator });
	}
}

function callerGone(e) {
	var hangup = { COMMAND: "HangupCall", PHONE_NUMBER: call.destination, ACCOUNT_SEARCH_ID: config.SEARCH_ID, CALL_ID: call.id, USER_ID: state.userId };
	block("Send HangupCall: " + form(hangup));
	request("POST", PORTAL + "/event", form(hangup));
	var history = {
		COMMAND: "AddCallHistory", ACCOUNT_ID: session.accountId, PORTAL_USER_ID: state.userId,
		APPLICATION_ID: session.applicationId, PORTAL_NUMBER: call.destination, PHONE_NUMBER: call.callerid,
		URL: state.recordUrl, INCOMING: 2, CALL_ID: call.id, CALL_LOG: session.logURL,
		CALL_DURATION: e.duration, CALL_START_DATE: state.connectedAt, CALL_STATUS: operator ? "true" : "false",
		CALL_QUALITY: 100, CALL_DEVICE: "WEBRTC", CALL_VOTE: 0, COST: e.cost,
	};
	block("Send call history", "Call code: 200", "Call reason: Success call",
		"Call direction: " + encodeURIComponent(e.direction), "Call params: " + form(history));
	request("POST", PORTAL + "/event", form(history));
	if (!state.recordUrl) Engine.command("close");
}
