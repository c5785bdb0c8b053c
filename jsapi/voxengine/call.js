// The Call class: one leg of the session, incoming or outgoing. Every method
// that acts on the leg issues one engine command (docs/engine-protocol.md), so
// the session log shows exactly what the scenario asked for.

// The states Call.state() returns. The object never leaves the layer, so it is
// not frozen: freezing costs every session about half a microsecond a property.
const CallState = {
  ALERTING: "ALERTING",
  PROGRESSING: "PROGRESSING",
  CONNECTED: "CONNECTED",
  TERMINATED: "TERMINATED",
};

// ringbackToneScript returns the ringback tone of a country as a Cisco
// ToneScript (S23), by ISO 3166 alpha-2 code, or undefined when we have no
// preset. The cadences follow the national tone plans collected with ITU-T
// E.180 (for Russia and the other former-USSR networks 425 Hz, 1 s on, 4 s
// off, per the Russian standard 45.223-2001; the UK double ring per BT SIN
// 350). A switch rather than a table: the switch is compiled once per
// process, where a table would be built again in every session.
function ringbackToneScript(code) {
  switch (code) {
    case "RU":
    case "UA":
    case "KZ":
    case "BY":
    case "DE":
    case "PL":
    case "IT":
    case "NL":
      return "425@-19;*(1/4/1)";
    case "ES":
      return "425@-19;*(1.5/3/1)";
    case "FR":
      return "440@-19;*(1.5/3.5/1)";
    case "US":
    case "CA":
      return "440@-19,480@-19;*(2/4/1+2)";
    case "GB":
    case "UK": // Voximplant's examples use "UK" as well as the ISO code "GB".
      return "400@-19,450@-19;*(0.4/0.2/1+2,0.4/2/1+2)";
  }
  return undefined;
}

// The tone played when a scenario names a country we have no preset for: a
// caller waiting for an answer should hear some ringback rather than silence.
const defaultRingbackCountry = "US";

// deliverCallEvent(call, event, owned) and isTerminatedCall(call) are VoxEngine's
// private doors into a Call; they are set by the class's static block so the
// scenario sees only the public methods.
let deliverCallEvent;
let isTerminatedCall;

class Call {
  #id;
  #incoming;
  #number;
  #callerid;
  #displayName;
  #headers;
  #customData;
  #state;
  #listeners = new ListenerRegistry("Call", CallEvents);

  // info: {incoming, number, callerid, displayName, headers, customData}.
  // Calls are made by VoxEngine (CallAlerting, callUser, callSIP, callPSTN);
  // a scenario never constructs one. A missing string reads as "", as
  // Voximplant's getters return strings.
  constructor(id, info) {
    this.#id = id;
    this.#incoming = info.incoming;
    this.#number = valueOrEmpty(info.number);
    this.#callerid = valueOrEmpty(info.callerid);
    this.#displayName = valueOrEmpty(info.displayName);
    this.#headers = info.headers || {};
    this.#customData = valueOrEmpty(info.customData);
    this.#state = info.incoming ? CallState.ALERTING : CallState.PROGRESSING;
  }

  id() {
    return this.#id;
  }

  incoming() {
    return this.#incoming;
  }

  // number is the dialled number of an incoming call, or the user name, SIP
  // URI or phone number an outgoing call was placed to.
  number() {
    return this.#number;
  }

  callerid() {
    return this.#callerid;
  }

  displayName() {
    return this.#displayName;
  }

  // headers returns a copy of the SIP headers the call arrived with (an
  // outgoing call has none), so a scenario cannot rewrite the call's record.
  headers() {
    return Object.assign({}, this.#headers);
  }

  state() {
    return this.#state;
  }

  // customData(data) sets, customData() gets the call's custom string. It is
  // local to the session: the engine protocol has no per-call command for it.
  customData(data) {
    if (data !== undefined) {
      this.#customData = String(data);
    }
    return this.#customData;
  }

  addEventListener(event, listener) {
    this.#listeners.add(event, listener);
  }

  removeEventListener(event, listener) {
    this.#listeners.remove(event, listener);
  }

  // Missing SIP headers go out as null, which the session log prints as NULL,
  // as in the seed.
  answer(extraHeaders) {
    this.#command("AcceptCall", { headers: extraHeaders ?? null });
  }

  // ring tells an alerting incoming call it rings (180 Ringing, no media):
  // the caller's phone plays its own ringback.
  ring(extraHeaders) {
    this.#command("Ring", { headers: extraHeaders ?? null });
  }

  startEarlyMedia(extraHeaders) {
    this.#command("StartAudio", { headers: extraHeaders ?? null });
  }

  // hangup ends an answered call or cancels an outgoing one. The leg counts as
  // terminated at once, so a second hangup is a warning, not a second BYE.
  hangup(extraHeaders) {
    if (this.#command("HangupCall", { headers: extraHeaders ?? null })) {
      this.#state = CallState.TERMINATED;
    }
  }

  // reject answers an alerting call with a SIP final response (S24).
  // Voximplant documents the code as required and gives no default; we send
  // 486 Busy Here when it is missing, the usual "cannot take the call" answer.
  reject(code, extraHeaders) {
    const status = code === undefined || code === null ? 486 : code;
    if (this.#command("HangupCall", { code: status, headers: extraHeaders ?? null })) {
      this.#state = CallState.TERMINATED;
    }
  }

  // decline is Voximplant's older name for reject.
  decline(code, extraHeaders) {
    this.reject(code, extraHeaders);
  }

  playProgressTone(country) {
    let script = ringbackToneScript(String(country === undefined ? "" : country).toUpperCase());
    if (script === undefined) {
      host.warn(
        `Call ${this.#id}: no progress tone for country ${JSON.stringify(country)}, ` +
          `playing the ${defaultRingbackCountry} ringback`,
      );
      script = ringbackToneScript(defaultRingbackCountry);
    }
    this.#command("PlayToneScript", { script, loop: true });
  }

  // startPlayback(url, {loop}) or, in Voximplant's older form,
  // startPlayback(url, loop).
  startPlayback(url, parameters) {
    let loop = false;
    if (typeof parameters === "boolean") {
      loop = parameters;
    } else if (parameters !== null && typeof parameters === "object") {
      loop = Boolean(parameters.loop);
    }
    this.#command("Play", { url: String(url), loop });
  }

  stopPlayback() {
    this.#command("Stop", {});
  }

  // say(text, {voice}) or the older forms say(text, {language}) and
  // say(text, language), where the second argument names the voice.
  say(text, parameters) {
    let voice = null;
    if (typeof parameters === "string") {
      voice = parameters;
    } else if (parameters !== null && typeof parameters === "object") {
      // Each property is read once, in this order, whatever it holds.
      const named = parameters.voice;
      const language = parameters.language;
      if (named !== undefined) {
        voice = named;
      } else if (language !== undefined) {
        voice = language;
      }
    }
    this.#command("Say", { text: String(text), voice });
  }

  record(parameters) {
    const stereo = parameters !== null && typeof parameters === "object" && Boolean(parameters.stereo);
    this.#command("Record", { stereo });
  }

  stopRecording() {
    this.#command("StopRecord", {});
  }

  // handleTones() with no argument turns tone delivery on: the only reason to
  // call it bare is to start receiving CallEvents.ToneReceived.
  handleTones(handle) {
    this.#command("HandleTones", { handle: handle === undefined ? true : Boolean(handle) });
  }

  sendDigits(digits) {
    this.#command("SendDigits", { digits: String(digits) });
  }

  sendMessage(text) {
    this.#command("SendMessage", { text: String(text) });
  }

  sendInfo(mimeType, body, headers) {
    this.#command("SendInfo", { mimeType: String(mimeType), body: valueOrEmpty(body), headers: headers ?? null });
  }

  // sendMediaTo(other) makes other hear this call's far end, one way: a
  // supervisor listening in, say. VoxEngine.sendMediaBetween is this both
  // ways. A call hears one other call at a time, so sending a second one to
  // it replaces the first.
  sendMediaTo(other) {
    this.#mediaTo("SendMediaTo", other);
  }

  stopMediaTo(other) {
    this.#mediaTo("StopMediaTo", other);
  }

  #mediaTo(name, other) {
    if (!(other instanceof Call)) {
      throw new TypeError(`Call.${name.charAt(0).toLowerCase()}${name.slice(1)}: the argument must be a Call object`);
    }
    if (other === this) {
      throw new TypeError(`Call.${name.charAt(0).toLowerCase()}${name.slice(1)}: a call cannot hear itself`);
    }
    if (other.#state === CallState.TERMINATED) {
      host.warn(`Call ${this.#id}: ${name} ${other.#id} ignored, that call is already terminated`);
      return;
    }
    this.#command(name, { to: other.#id });
  }

  // handleBlindTransfer() with no argument turns transfers on, as
  // handleTones() does tones.
  handleBlindTransfer(handle) {
    this.#command("HandleBlindTransfer", { handle: handle === undefined ? true : Boolean(handle) });
  }

  notifyBlindTransferSuccess() {
    this.#command("NotifyBlindTransfer", { code: 200, reason: "OK" });
  }

  // A failure without a code is reported as 500: the transfer did not happen,
  // for a reason the scenario did not say.
  notifyBlindTransferFailed(code, reason) {
    const status = code === undefined || code === null ? 500 : Number(code);
    this.#command("NotifyBlindTransfer", { code: status, reason: valueOrEmpty(reason) });
  }

  // #deliver hands one engine event for this call to its listeners. The state
  // is updated before the listeners run, so call.state() inside a
  // Disconnected listener already reads TERMINATED. The listeners get the
  // event with call added: event itself when owned (see dispatch), else a copy.
  #deliver(event, owned) {
    switch (event.name) {
      case CallEvents.Ringing:
      case CallEvents.AudioStarted:
        if (this.#state === CallState.ALERTING) {
          this.#state = CallState.PROGRESSING;
        }
        break;
      case CallEvents.Connected:
        this.#state = CallState.CONNECTED;
        if (event.customData !== undefined) {
          this.#customData = event.customData;
        }
        break;
      case CallEvents.Failed:
      case CallEvents.Disconnected:
        this.#state = CallState.TERMINATED;
        break;
    }
    if (this.#listeners.listening(event.name)) {
      const payload = owned === true ? event : Object.assign({}, event);
      payload.call = this;
      this.#listeners.emit(event.name, payload);
    }
  }

  static {
    deliverCallEvent = (call, event, owned) => call.#deliver(event, owned);
    isTerminatedCall = (call) => call.#state === CallState.TERMINATED;
  }

  // #command issues name with params and the call's id unless the call is
  // over, in which case it warns and does nothing: a late command from a
  // timer or a listener must not end the whole session. It reports whether it
  // was sent. params is always a fresh literal of the caller's, so the id is
  // added to it rather than to a copy (Object.assign costs a dozen
  // allocations a command).
  #command(name, params) {
    if (this.#state === CallState.TERMINATED) {
      host.warn(`Call ${this.#id}: ${name} ignored, the call is already terminated`);
      return false;
    }
    params.id = this.#id;
    host.command(name, params);
    return true;
  }
}

// valueOrEmpty turns a missing string into "", so the getters always return
// strings as Voximplant's do; voxengine.js uses it too.
function valueOrEmpty(value) {
  return value === undefined || value === null ? "" : String(value);
}
