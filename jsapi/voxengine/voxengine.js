// VoxEngine: the session object (application events, outgoing calls, media
// bridges, custom data), Logger, and the dispatcher the runtime feeds every
// engine event through. This file is joined last and publishes the API.

// Every Call of the session by id (a string from the host). Calls stay after
// they end: events such as Call.RecordStopped may still arrive for a
// disconnected leg (see the seed).
const sessionCalls = Object.create(null);

const appListeners = new ListenerRegistry("VoxEngine", AppEvents);

// The session's custom data: set by Application.Started, changed by
// VoxEngine.customData(data).
let sessionCustomData = "";

const VoxEngine = Object.freeze({
  addEventListener(event, listener) {
    appListeners.add(event, listener);
  },

  removeEventListener(event, listener) {
    appListeners.remove(event, listener);
  },

  // callUser({username, callerid, displayName, extraHeaders, video}) or the
  // older callUser(username, callerid, displayName, extraHeaders, video).
  callUser(username, callerid, displayName, extraHeaders, video) {
    const p = isParameterObject(username)
      ? username
      : { username, callerid, displayName, extraHeaders, video };
    return placeCall("CallUser", p.username, {
      username: p.username,
      callerid: p.callerid,
      displayName: p.displayName,
      headers: p.extraHeaders,
      video: p.video,
    });
  },

  // callSIP(to, {callerid, displayName, headers, video, authUser, password,
  // outProxy}) or, as Voximplant documents the older form, callSIP(to,
  // callerid, displayName, password, authUser, extraHeaders, video, outProxy).
  callSIP(to, callerid, displayName, password, authUser, extraHeaders, video, outProxy) {
    const p = isParameterObject(callerid)
      ? callerid
      : { callerid, displayName, password, authUser, headers: extraHeaders, video, outProxy };
    return placeCall("CallSIP", to, {
      to,
      callerid: p.callerid,
      displayName: p.displayName,
      headers: p.headers,
      video: p.video,
      authUser: p.authUser,
      password: p.password,
      outProxy: p.outProxy,
    });
  },

  // callPSTN(number, callerid, {headers}). Voximplant's other parameters
  // (amd, followDiversion) are not implemented; headers is a Vox addition
  // that the engine protocol carries to the trunk.
  callPSTN(number, callerid, parameters) {
    const p = isParameterObject(parameters) ? parameters : {};
    return placeCall("CallPSTN", number, {
      number,
      callerid,
      headers: p.headers,
    });
  },

  sendMediaBetween(call1, call2) {
    bridgeCommand("SendMediaBetween", call1, call2);
  },

  stopMediaBetween(call1, call2) {
    bridgeCommand("StopMediaBetween", call1, call2);
  },

  // easyProcess(call1, call2, onEstablished) connects an incoming call to
  // the call placed for it, as a switch would (joinCalls). Voximplant's
  // direct (P2P) mode is not implemented: the media goes through Vox.
  easyProcess(call1, call2, onEstablished, direct) {
    joinCalls(call1, call2, onEstablished, direct);
  },

  // The forwardCallTo* helpers connect every incoming call of the session,
  // with easyProcess, to a call placed for it: to the user named by the
  // dialled number, to the dialled number (or numberTransform's result)
  // through the account's trunk, or to the dialled SIP URI.
  forwardCallToUser(onEstablished, video) {
    forwardEachCall(
      (e) => VoxEngine.callUser({ username: e.destination, callerid: e.callerid, displayName: e.displayName, video }),
      onEstablished,
    );
  },

  forwardCallToPSTN(numberTransform, onEstablished, options) {
    forwardEachCall((e) => {
      const number = typeof numberTransform === "function" ? numberTransform(e.destination) : e.destination;
      const callerid = isParameterObject(options) && options.callerid ? options.callerid : e.callerid;
      return VoxEngine.callPSTN(number, callerid);
    }, onEstablished);
  },

  forwardCallToSIP(onEstablished, video) {
    forwardEachCall(
      (e) => VoxEngine.callSIP(e.toURI, { callerid: e.callerid, displayName: e.displayName, video }),
      onEstablished,
    );
  },

  // terminate ends the session; the host then delivers Terminating and
  // Terminated.
  terminate() {
    host.command("close");
  },

  // zonedTime(timeZone, date) is a Vox addition: the wall-clock fields of date
  // (a Date or milliseconds since the epoch; now when omitted) in an IANA time
  // zone, for working hours and holidays (S12). The runtime has no Intl. It
  // only computes, so it is no engine command and the session log does not
  // show it.
  zonedTime(timeZone, date) {
    if (typeof timeZone !== "string") {
      throw new TypeError(`VoxEngine.zonedTime: the time zone must be a string such as "Europe/Moscow", got ${typeof timeZone}`);
    }
    const ms = date === undefined ? Date.now() : date instanceof Date ? date.getTime() : Number(date);
    return host.zonedTime(timeZone, ms);
  },

  // customData() gets, customData(data) sets the session's custom string;
  // the host records a set value with the call history.
  customData(data) {
    if (data !== undefined) {
      sessionCustomData = String(data);
      host.command("SetCustomData", { data: sessionCustomData });
    }
    return sessionCustomData;
  },
});

const Logger = Object.freeze({
  // write adds a scenario line to the session log (S13).
  write(text) {
    host.log(String(text));
  },
});

// placeCall issues an outgoing-call command with the engine protocol's two
// params objects, {id} and the call parameters, and returns the new Call.
// Missing parameters go out as null so the log shows NULL, as in the seed.
function placeCall(command, number, params) {
  const id = host.newCallId();
  const call = new Call(id, {
    incoming: false,
    number,
    callerid: params.callerid,
    displayName: params.displayName,
  });
  sessionCalls[id] = call;
  const sent = {};
  for (const key of Object.keys(params)) {
    sent[key] = params[key] === undefined ? null : params[key];
  }
  host.command(command, { id }, sent);
  return call;
}

function bridgeCommand(command, call1, call2) {
  if (!(call1 instanceof Call) || !(call2 instanceof Call)) {
    throw new TypeError(`VoxEngine.${command.charAt(0).toLowerCase()}${command.slice(1)}: both arguments must be Call objects`);
  }
  if (isTerminatedCall(call1) || isTerminatedCall(call2)) {
    host.warn(`${command} ${call1.id()} ${call2.id()} ignored, a call is already terminated`);
    return;
  }
  host.command(command, { id1: call1.id(), id2: call2.id() });
}

// joinCalls is easyProcess: call2's ringing rings call1 (180), its early
// media becomes call1's (183), its answer answers call1 with its X- headers,
// and from then on each hears the other; in-call messages and SIP INFO go
// across; when either call ends the other is ended too, and the session
// closes. A call2 that fails rejects call1 with its status, so that a busy
// callee sounds busy to the caller. onEstablished(call1, call2) runs once
// call1 is answered.
function joinCalls(call1, call2, onEstablished, direct) {
  if (!(call1 instanceof Call) || !(call2 instanceof Call)) {
    throw new TypeError("VoxEngine.easyProcess: call1 and call2 must be Call objects");
  }
  if (direct) {
    host.warn("VoxEngine.easyProcess: the direct (P2P) mode is not implemented in Vox; the media goes through Vox");
  }
  const live = (call) => !isTerminatedCall(call);
  const bridge = () => VoxEngine.sendMediaBetween(call1, call2);
  const end = (other) => {
    if (live(other)) {
      other.hangup();
    }
    VoxEngine.terminate();
  };
  call2.addEventListener(CallEvents.Ringing, () => {
    if (live(call1)) call1.ring();
  });
  call2.addEventListener(CallEvents.AudioStarted, () => {
    if (!live(call1)) return;
    call1.startEarlyMedia();
    bridge();
  });
  // Bridged on the answer too: a call answered without early media (a
  // browser, a phone that sent only 180) had no AudioStarted; after one,
  // bridging again changes nothing.
  call2.addEventListener(CallEvents.Connected, (e) => {
    if (!live(call1)) return;
    call1.answer(e.headers);
    bridge();
  });
  if (typeof onEstablished === "function") {
    call1.addEventListener(CallEvents.Connected, () => onEstablished(call1, call2));
  }
  for (const [from, to] of [
    [call1, call2],
    [call2, call1],
  ]) {
    from.addEventListener(CallEvents.MessageReceived, (e) => {
      if (live(to)) to.sendMessage(e.text);
    });
    from.addEventListener(CallEvents.InfoReceived, (e) => {
      if (live(to)) to.sendInfo(e.mimeType, e.body, e.headers);
    });
  }
  call2.addEventListener(CallEvents.Failed, (e) => {
    if (live(call1)) call1.reject(e.code);
    VoxEngine.terminate();
  });
  call1.addEventListener(CallEvents.Disconnected, () => end(call2));
  call2.addEventListener(CallEvents.Disconnected, () => end(call1));
}

// forwardEachCall has every incoming call of the session joined to the call
// place(e) places for it.
function forwardEachCall(place, onEstablished) {
  appListeners.add(AppEvents.CallAlerting, (e) => joinCalls(e.call, place(e), onEstablished, false));
}

// isParameterObject tells the parameter-object form of a call from the older
// positional one, whose first argument is a string.
function isParameterObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

// dispatch delivers one engine event to the VoxEngine layer. The runtime
// calls it for every event before the scenario's own onPhoneEvent; what a
// listener throws propagates to the runtime, which logs it and ends the call.
// Listeners get a copy of the event, so that onPhoneEvent sees it as it came,
// unless owned is true: the runtime then hands no one else this event object,
// and the listeners get it itself.
function dispatch(event, owned) {
  const name = event === null || typeof event !== "object" ? undefined : event.name;
  if (typeof name !== "string") {
    host.warn(`event without a name ignored: ${String(event)}`);
    return;
  }
  if (name === "Net.HttpRequestResult") {
    if (netLayer !== undefined) {
      netLayer.deliverHttpResult(event);
    }
    return;
  }
  if (name.startsWith("Call.")) {
    const call = typeof event.id === "string" ? sessionCalls[event.id] : undefined;
    if (call === undefined) {
      // A call placed through Engine.command directly: the scenario's own
      // onPhoneEvent handles its events.
      return;
    }
    deliverCallEvent(call, event, owned);
    return;
  }
  if (name === AppEvents.CallAlerting) {
    deliverCallAlerting(event);
    return;
  }
  if (name === AppEvents.HttpRequest && typeof event.requestId === "string") {
    return answerHttpRequest(event, owned);
  }
  if (name === AppEvents.Started && event.customData !== undefined && event.customData !== null) {
    sessionCustomData = String(event.customData);
  }
  if (name.startsWith("Application.")) {
    if (appListeners.listening(name)) {
      appListeners.emit(name, owned === true ? event : Object.assign({}, event));
    }
    return;
  }
  host.warn(`unknown event ${name} ignored`);
}

// deliverCallAlerting makes the Call of an incoming INVITE and hands it to
// the CallAlerting listeners, with the fields Voximplant's event carries.
function deliverCallAlerting(event) {
  const call = new Call(event.id, {
    incoming: true,
    number: event.destination,
    callerid: event.callerid,
    displayName: event.displayName,
    headers: event.headers,
    customData: event.customData,
  });
  sessionCalls[event.id] = call;
  appListeners.emit(AppEvents.CallAlerting, {
    name: event.name,
    call,
    callerid: event.callerid,
    destination: event.destination,
    displayName: event.displayName,
    headers: event.headers || {},
    fromURI: event.fromURI,
    toURI: event.toURI,
    customData: event.customData,
  });
}

// answerHttpRequest hands a request on the session's access URL (S20) to the
// HttpRequest listeners and sends what the first of them returned as the HTTP
// response, as Voximplant does: a string or number as it is, anything else as
// JSON; a promise answers once it settles. It returns whether it took the
// request; the runtime answers one nobody took.
function answerHttpRequest(event, owned) {
  if (!appListeners.listening(event.name)) {
    return false;
  }
  const id = event.requestId;
  // Declared here rather than at the top level: only sessions that get a
  // request pay for it.
  const send = (value) => {
    if (value === undefined || value === null) {
      host.command("HttpResponse", { requestId: id, content: "" });
    } else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      host.command("HttpResponse", { requestId: id, content: String(value), contentType: "text/plain; charset=utf-8" });
    } else {
      host.command("HttpResponse", { requestId: id, content: JSON.stringify(value), contentType: "application/json" });
    }
  };
  const value = appListeners.emit(event.name, owned === true ? event : Object.assign({}, event));
  if (value !== null && typeof value === "object" && typeof value.then === "function") {
    value.then(send, (err) => {
      host.warn(`the answer to HTTP request ${id} failed: ${describeError(err)}`);
      host.command("HttpResponse", {
        requestId: id,
        status: 500,
        contentType: "application/json",
        content: JSON.stringify({ error: { code: "scenario_failed", message: "the scenario could not answer" } }),
      });
    });
  } else {
    send(value);
  }
  return true;
}

// Engine is the engine protocol itself, for scenarios that speak it directly as the
// seed's did: commands by name with params objects (docs/engine-protocol.md), ids
// for new calls, and events through a global onPhoneEvent.
const Engine = Object.freeze({
  command(name, ...params) {
    host.command(String(name), ...params);
  },
  newCallId() {
    return host.newCallId();
  },
});

// Publish the public API, and nothing else, on the scenario's global object.
// Like built-ins, the names are writable and configurable but not enumerable.
// One descriptor serves every publish: an object literal per name would be
// built again in every session.
const published = { value: undefined, writable: true, configurable: true, enumerable: false };
publish("VoxEngine", VoxEngine);
publish("Engine", Engine);
publish("AppEvents", AppEvents);
publish("CallEvents", CallEvents);
publishLazy("Net", netAPI);
publish("Logger", Logger);
publishLazy("Modules", modulesAPI);
publish("require", require);

function publish(name, value) {
  published.value = value;
  Object.defineProperty(global, name, published);
}

// publishLazy publishes what most scenarios never touch, and what costs every
// session to build, as an accessor that builds it on first use (by the
// scenario, or by typeof) and then gives way to the plain property publish
// makes: from then on nothing tells the two apart. build must return the same
// value every time, as the getter may have been kept and called again.
// Assigning the name replaces the value without building it.
function publishLazy(name, build) {
  Object.defineProperty(global, name, {
    get() {
      const value = build();
      publish(name, value);
      return value;
    },
    set(value) {
      publish(name, value);
    },
    configurable: true,
    enumerable: false,
  });
}
