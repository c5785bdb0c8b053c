// Types of what a Vox call scenario sees: the VoxEngine layer
// (jsapi/voxengine/*.js), the timers the runtime provides, and the engine
// events delivered to onPhoneEvent (docs/engine-protocol.md).
//
// This file describes exactly what Vox implements, with Voximplant's names and
// argument forms; a scenario that type-checks against it uses nothing Vox
// lacks. Check a scenario with a tsconfig that lists this file, e.g.
//   {"compilerOptions": {"noEmit": true, "lib": ["es2020"], "types": [],
//    "allowJs": true, "checkJs": true}, "files": ["voxengine.d.ts", "scenario.js"]}

// ---------------------------------------------------------------- events

/** SIP headers as name → value, e.g. `{"X-Line": "2"}`. */
type SipHeaders = { [name: string]: string };

/** Names of the application (session) events, for VoxEngine.addEventListener. */
declare const AppEvents: {
  /** The session started; carries the session's ids and URLs. */
  readonly Started: "Application.Started";
  /** An incoming call arrived; its listener gets the new Call as `call`. */
  readonly CallAlerting: "Application.CallAlerting";
  /** A request came in on the session's access URL (S20). */
  readonly HttpRequest: "Application.HttpRequest";
  /** The session is about to end. */
  readonly Terminating: "Application.Terminating";
  /** The session ended; the last event a scenario sees. */
  readonly Terminated: "Application.Terminated";
};

/** Names of the events of one call, for Call.addEventListener. */
declare const CallEvents: {
  /** The remote side is ringing (180) on an outgoing call. */
  readonly Ringing: "Call.Ringing";
  /** Media started: early media (183) or the answer of an outgoing call. */
  readonly AudioStarted: "Call.AudioStarted";
  /** The call was answered. */
  readonly Connected: "Call.Connected";
  /** An outgoing call could not be established; `code` is the SIP status. */
  readonly Failed: "Call.Failed";
  /** An established call ended. */
  readonly Disconnected: "Call.Disconnected";
  /** A startPlayback, say or progress tone finished, or could not play (`error`). */
  readonly PlaybackFinished: "Call.PlaybackFinished";
  /** Recording started; `url` is where the record will be. */
  readonly RecordStarted: "Call.RecordStarted";
  /** Recording stopped. */
  readonly RecordStopped: "Call.RecordStopped";
  /** A DTMF digit arrived (after handleTones(true)). */
  readonly ToneReceived: "Call.ToneReceived";
  /** An in-call message (SIP MESSAGE/INFO) arrived (S20). */
  readonly MessageReceived: "Call.MessageReceived";
  /**
   * The far end asks to transfer the call to `transferTo` (a phone's transfer
   * key: SIP REFER), after handleBlindTransfer(true). Answer with
   * notifyBlindTransferSuccess or notifyBlindTransferFailed within a minute:
   * after that the far end is told the transfer failed (408) and keeps the call.
   */
  readonly BlindTransferRequested: "Call.BlindTransferRequested";
  /** The far end sent a SIP INFO other than a digit or text (those are ToneReceived and MessageReceived). */
  readonly InfoReceived: "Call.InfoReceived";
  /** The far end put the call on hold (a re-INVITE with a=sendonly or a=inactive). */
  readonly OnHold: "Call.OnHold";
  /** The far end took the call off hold. */
  readonly OffHold: "Call.OffHold";
};

type AppEventName = (typeof AppEvents)[keyof typeof AppEvents];
type CallEventName = (typeof CallEvents)[keyof typeof CallEvents];

/** The params of each application event as the host sends them. */
interface AppEventParams {
  "Application.Started": {
    accessURL: string;
    accountId: number;
    applicationId: number;
    logURL: string;
    sessionId: number;
    userId: number;
    /** The session's custom data, when the session was started with one. */
    customData?: string;
  };
  "Application.CallAlerting": {
    /** The new call's id. */
    id: string;
    callerid: string;
    /** The dialled number. */
    destination: string;
    displayName: string;
    fromURI: string;
    toURI: string;
    headers: SipHeaders;
  };
  "Application.HttpRequest": {
    method: string;
    path: string;
    /** The request body. */
    content: string;
    /** Set when the requester waits for the answer (HttpResponse); the VoxEngine layer sends it for you. */
    requestId?: string;
  };
  "Application.Terminating": {};
  "Application.Terminated": {};
}

/** The params of each call event as the host sends them (besides `id`). */
interface CallEventParams {
  "Call.Ringing": { headers: SipHeaders };
  "Call.AudioStarted": { headers: SipHeaders };
  "Call.Connected": {
    headers: SipHeaders;
    /** Custom data sent by the answering client, when it sent any. */
    customData?: string;
  };
  "Call.Failed": {
    /** SIP status code, e.g. 486 or 487. */
    code: number;
    /** SIP reason phrase, e.g. "Request Terminated". */
    reason: string;
    /** The response's X- and VI- headers; for a redirect (3xx), Contact: where to call instead. */
    headers: SipHeaders;
  };
  "Call.Disconnected": {
    /** Talk time in seconds. */
    duration: number;
    cost: number;
    direction: string;
    headers: SipHeaders;
  };
  "Call.PlaybackFinished": {
    /** Set when the media could not be played. */
    error?: string;
  };
  "Call.RecordStarted": { url: string };
  "Call.RecordStopped": {
    url: string;
    /** Record length in seconds. */
    duration: number;
    cost: number;
    reason: string;
  };
  "Call.ToneReceived": {
    /** One of 0-9, *, #, A-D. */
    tone: string;
  };
  "Call.MessageReceived": { text: string; headers: SipHeaders };
  "Call.InfoReceived": {
    /** The INFO's Content-Type, e.g. "application/x-crm+json". */
    mimeType: string;
    body: string;
    headers: SipHeaders;
  };
  "Call.OnHold": {};
  "Call.OffHold": {};
  "Call.BlindTransferRequested": {
    /** The user part of where to transfer: a user name or a number ("phone69", "74954451120"). */
    transferTo: string;
    /** The request's X- and VI- headers, and Refer-To: the whole URI, for callSIP. */
    headers: SipHeaders;
  };
}

/** What an AppEvents.CallAlerting listener receives. */
interface CallAlertingEvent {
  name: "Application.CallAlerting";
  /** The incoming call, in state ALERTING. */
  call: Call;
  callerid: string;
  /** The dialled number. */
  destination: string;
  displayName: string;
  headers: SipHeaders;
  fromURI: string;
  toURI: string;
  customData?: string;
}

/** What a VoxEngine listener of each application event receives. */
type AppEventMap = {
  [K in AppEventName]: K extends "Application.CallAlerting" ? CallAlertingEvent : AppEventParams[K] & { name: K };
};

/**
 * What a Call listener of event K receives: the host's params plus name, id and
 * the Call. For a union of events it is the union of each one's, so a check of
 * `name` tells them apart.
 */
type CallEvent<K extends CallEventName> = K extends CallEventName
  ? CallEventParams[K] & {
      name: K;
      /** The call's id. */
      id: string;
      /** The call the event is about. */
      call: Call;
    }
  : never;

/**
 * An event as the host delivers it to a scenario's global
 * `function onPhoneEvent(event)`, after the VoxEngine listeners ran. It is
 * the plain engine event: call events carry the call's `id`, not a Call.
 */
type PhoneEvent =
  | { [K in AppEventName]: AppEventParams[K] & { name: K } }[AppEventName]
  | { [K in CallEventName]: CallEventParams[K] & { name: K; id: string } }[CallEventName]
  | ({ name: "Net.HttpRequestResult"; id: string } & Net.HttpRequestResult);

// ---------------------------------------------------------------- Call

/** Voximplant's call states; see Call.state. */
type CallState = "ALERTING" | "PROGRESSING" | "CONNECTED" | "TERMINATED";

/** StartPlaybackParameters of Call.startPlayback. */
interface StartPlaybackParameters {
  /** Play the media again and again until stopPlayback. Default false. */
  loop?: boolean;
}

/** CallSayParameters of Call.say. */
interface CallSayParameters {
  /** The text-to-speech voice; the host's default when omitted. */
  voice?: string;
  /** @deprecated Voximplant's older name for `voice`. */
  language?: string;
}

/** CallRecordParameters of Call.record. */
interface CallRecordParameters {
  /** Record each direction in its own channel. Default false (mixed). */
  stereo?: boolean;
}

/**
 * One leg of the session: the incoming call of AppEvents.CallAlerting or an
 * outgoing call from VoxEngine.callUser/callSIP/callPSTN. Scenarios do not
 * construct calls. A command on a call that is TERMINATED (after hangup,
 * reject, Failed or Disconnected) does nothing and writes a warning.
 */
interface Call {
  /** The call's id, unique in the session and used in the session log. */
  id(): string;
  /** Whether the call is incoming. */
  incoming(): boolean;
  /** The dialled number of an incoming call, or the user, SIP URI or number an outgoing call was placed to. */
  number(): string;
  /** The caller id; "" for an outgoing call placed without one. */
  callerid(): string;
  /** The caller's display name; "" for an outgoing call placed without one. */
  displayName(): string;
  /** Vox: a copy of the SIP headers the call arrived with ({} for an outgoing call). */
  headers(): SipHeaders;
  /** ALERTING (incoming, not answered), PROGRESSING (outgoing or early media), CONNECTED, TERMINATED. */
  state(): CallState;
  /**
   * Gets, or with an argument sets and returns, the call's custom string.
   * It is local to the session; a Connected event that carries customData replaces it.
   */
  customData(data?: string): string;

  /** Adds a listener for one of CallEvents; an unknown event name throws a TypeError. */
  addEventListener<K extends CallEventName>(event: K, listener: (event: CallEvent<K>) => unknown): void;
  /** Removes one listener, or every listener of the event when none is given. */
  removeEventListener<K extends CallEventName>(event: K, listener?: (event: CallEvent<K>) => unknown): void;

  /** Answers an incoming call (200 OK). */
  answer(extraHeaders?: SipHeaders): void;
  /**
   * Sends early media (183 with SDP) before answering, e.g. for a progress tone.
   * A call whose INVITE had no SDP (a delayed offer) cannot have it: it gets 180
   * Ringing, the scenario a warning, and no CallEvents.AudioStarted.
   */
  /**
   * Tells an alerting incoming call it rings (180 Ringing, no media): the
   * caller's phone plays its own ringback.
   */
  ring(extraHeaders?: SipHeaders): void;
  startEarlyMedia(extraHeaders?: SipHeaders): void;
  /** Ends an answered call, or cancels an outgoing one. */
  hangup(extraHeaders?: SipHeaders): void;
  /**
   * Rejects an incoming call with a SIP status code; 486 Busy Here when code is omitted.
   * A redirect (3xx) says where to in extraHeaders.Contact, e.g. reject(302, {Contact: "sip:bob@example.org"}).
   */
  reject(code?: number, extraHeaders?: SipHeaders): void;
  /** @deprecated Voximplant's older name for reject. */
  decline(code?: number, extraHeaders?: SipHeaders): void;

  /**
   * Plays the ringback tone of a country (ISO 3166 alpha-2: RU, UA, KZ, BY, DE,
   * PL, IT, NL, ES, FR, US, CA, GB or UK), looped; an unknown code plays the US
   * ringback and writes a warning. Call startEarlyMedia first on an unanswered call.
   */
  playProgressTone(country: string): void;
  /** Plays an audio file or URL; CallEvents.PlaybackFinished follows. */
  startPlayback(url: string, parameters?: StartPlaybackParameters): void;
  /** @deprecated Use startPlayback(url, {loop}). */
  startPlayback(url: string, loop: boolean): void;
  /** Stops whatever is playing to the call. */
  stopPlayback(): void;
  /** Speaks the text with text to speech; CallEvents.PlaybackFinished follows. */
  say(text: string, parameters?: CallSayParameters): void;
  /** @deprecated Use say(text, {voice}). */
  say(text: string, voice: string): void;

  /** Starts recording the call; CallEvents.RecordStarted follows. */
  record(parameters?: CallRecordParameters): void;
  /** Vox: stops the recording started with record; CallEvents.RecordStopped follows. */
  stopRecording(): void;

  /** Starts (true, or no argument) or stops delivering CallEvents.ToneReceived. */
  handleTones(handle?: boolean): void;
  /** Sends DTMF digits to the remote side. */
  sendDigits(digits: string): void;
  /** Sends an in-call text message (SIP MESSAGE). */
  sendMessage(text: string): void;
  /**
   * Sends a SIP INFO with body as mimeType (type/subtype, at most 1,300 bytes of
   * body) and the X- headers of headers: data for a PBX or an app on the far end.
   */
  sendInfo(mimeType: string, body: string, headers?: SipHeaders): void;
  /**
   * Makes other hear this call's far end, one way (a supervisor listening in);
   * VoxEngine.sendMediaBetween is this both ways. A call hears one other call
   * at a time: sending a second one to it replaces the first. A terminated
   * other is ignored with a warning.
   */
  sendMediaTo(other: Call): void;
  /** Stops what sendMediaTo started. */
  stopMediaTo(other: Call): void;
  /**
   * Take the far end's transfer requests (a phone's transfer key, SIP REFER)
   * as CallEvents.BlindTransferRequested; without it (or with false) they are
   * refused (603).
   */
  handleBlindTransfer(handle?: boolean): void;
  /** Tell the far end its transfer succeeded (the target answered); a phone then hangs up. */
  notifyBlindTransferSuccess(): void;
  /** Tell the far end its transfer failed, with the target's SIP status (486, 480...). */
  notifyBlindTransferFailed(code: number, reason?: string): void;
}

// ---------------------------------------------------------------- VoxEngine

/** CallUserParameters of VoxEngine.callUser. */
interface CallUserParameters {
  /** The Vox user to call, e.g. "phone67" (a SIP phone) or "user67" (a web client). */
  username: string;
  callerid?: string;
  displayName?: string;
  extraHeaders?: SipHeaders;
  video?: boolean;
}

/** CallSIPParameters of VoxEngine.callSIP. */
interface CallSIPParameters {
  callerid?: string;
  displayName?: string;
  headers?: SipHeaders;
  video?: boolean;
  /** User name for digest authentication. */
  authUser?: string;
  /** Password for digest authentication. */
  password?: string;
  /** Outbound proxy, e.g. "10.0.0.1:5060". */
  outProxy?: string;
}

/** CallPSTNParameters of VoxEngine.callPSTN. */
interface CallPSTNParameters {
  /** Vox: SIP headers sent to the trunk. */
  headers?: SipHeaders;
}

/** What an AppEvents.HttpRequest listener may answer: nothing, text, a number, or a JSON value. */
type HttpAnswer = void | undefined | null | string | number | boolean | object;

/** The session: application events, outgoing calls, media bridges, custom data. */
declare namespace VoxEngine {
  /**
   * Adds a listener for one of AppEvents; an unknown event name throws a TypeError.
   * An AppEvents.HttpRequest listener answers the request (S20): what it returns is
   * the HTTP response, a string or number as it is, anything else as JSON; a promise
   * answers once it settles. With several listeners the first value returned wins.
   */
  function addEventListener(
    event: "Application.HttpRequest",
    listener: (event: AppEventMap["Application.HttpRequest"]) => HttpAnswer | Promise<HttpAnswer>,
  ): void;
  function addEventListener<K extends AppEventName>(event: K, listener: (event: AppEventMap[K]) => unknown): void;
  /** Removes one listener, or every listener of the event when none is given. */
  function removeEventListener<K extends AppEventName>(event: K, listener?: (event: AppEventMap[K]) => unknown): void;

  /** Calls a Vox user (a SIP phone or a web client) of the same account. */
  function callUser(parameters: CallUserParameters): Call;
  /** @deprecated Use callUser({username, callerid, displayName, extraHeaders, video}). */
  function callUser(
    username: string,
    callerid?: string,
    displayName?: string,
    extraHeaders?: SipHeaders,
    video?: boolean,
  ): Call;

  /**
   * Calls a SIP URI, e.g. "sip:alice@example.org", or "sip:alice@example.org;transport=tls";
   * a "sips:" URI goes over TLS and offers SRTP.
   */
  function callSIP(to: string, parameters?: CallSIPParameters): Call;
  /** @deprecated Use callSIP(to, {callerid, displayName, password, authUser, headers, video, outProxy}). */
  function callSIP(
    to: string,
    callerid: string,
    displayName?: string,
    password?: string,
    authUser?: string,
    extraHeaders?: SipHeaders,
    video?: boolean,
    outProxy?: string,
  ): Call;

  /** Calls a phone number (international digits) through the account's trunk. */
  function callPSTN(number: string, callerid: string, parameters?: CallPSTNParameters): Call;

  /** Connects two calls' audio both ways. */
  function sendMediaBetween(call1: Call, call2: Call): void;
  /** Disconnects two calls' audio. */
  function stopMediaBetween(call1: Call, call2: Call): void;

  /**
   * Connects an incoming call (call1) to the call placed for it (call2), as a
   * switch would: call2's ringing rings call1 (180), its early media becomes
   * call1's, its answer answers call1, and then each hears the other;
   * in-call messages and SIP INFO go across. When either ends, the other is
   * ended and the session closes; a call2 that fails rejects call1 with its
   * status. onEstablished runs once call1 is answered. direct (P2P) is not
   * implemented in Vox: a warning, and the media goes through Vox.
   */
  function easyProcess(call1: Call, call2: Call, onEstablished?: (call1: Call, call2: Call) => void, direct?: boolean): void;
  /** Connects every incoming call, with easyProcess, to the user named by the dialled number. */
  function forwardCallToUser(onEstablished?: (call1: Call, call2: Call) => void, video?: boolean): void;
  /**
   * Connects every incoming call, with easyProcess, to the dialled number
   * (or what numberTransform makes of it) through the account's trunk, from
   * options.callerid or the caller's number.
   */
  function forwardCallToPSTN(
    numberTransform?: ((dialled: string) => string) | null,
    onEstablished?: (call1: Call, call2: Call) => void,
    options?: { callerid?: string },
  ): void;
  /** Connects every incoming call, with easyProcess, to the SIP URI it was made to. */
  function forwardCallToSIP(onEstablished?: (call1: Call, call2: Call) => void, video?: boolean): void;

  /** Ends the session; AppEvents.Terminating and Terminated follow. */
  function terminate(): void;

  /** Gets, or with an argument sets and returns, the session's custom string (kept with the call history). */
  function customData(data?: string): string;

  /**
   * Vox: the wall-clock fields of `date` (a Date or milliseconds since the
   * epoch; now, on the session's clock, when omitted) in an IANA time zone such
   * as "Europe/Moscow". An unknown zone (or "", "Local") throws a RangeError.
   */
  function zonedTime(timeZone: string, date?: Date | number): ZonedTime;
}

/** What VoxEngine.zonedTime returns. */
interface ZonedTime {
  year: number;
  /** 1 (January) to 12. */
  month: number;
  /** Day of the month, 1 to 31. */
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 (Sunday) to 6 (Saturday), as Date.getDay. */
  weekday: number;
  /** Minutes east of UTC in force at that instant (180 in Moscow). */
  offset: number;
  /** "2026-01-07". */
  date: string;
  /** "09:05", 24-hour. */
  time: string;
}

/**
 * The engine protocol itself (docs/engine-protocol.md), for scenarios that speak
 * it directly as the seed's did: they define a global `function
 * onPhoneEvent(event: PhoneEvent)` and issue commands by name. Every command is
 * written to the session log as "Executing JS command".
 */
declare namespace Engine {
  /** Issues one engine command, such as `command("AcceptCall", {id, headers: null})`. Returns at once; results come as events. */
  function command(name: string, ...params: Record<string, unknown>[]): void;
  /** A fresh id for an outgoing call (CallUser, CallSIP, CallPSTN) or an HTTP request. */
  function newCallId(): string;
}

/** The session log. */
declare namespace Logger {
  /** Writes a scenario line to the session log (S13). */
  function write(text: unknown): void;
}

// ---------------------------------------------------------------- Net

/** HTTP requests from the scenario. A sent request always completes with a result, never an exception. */
declare namespace Net {
  /** HttpRequestOptions. */
  interface HttpRequestOptions {
    /** GET (the default), POST, PUT, ... */
    method?: string;
    /** Request headers as name → value; arrays of "Name: value" or {name, value} are accepted as in older scenarios. */
    headers?: { [name: string]: string } | string[] | { name: string; value: string }[];
    /** The request body: a string, or bytes. */
    postData?: string | number[];
    /** Query parameters appended to the URL. */
    params?: { [name: string]: string };
    /** Seconds to wait for the response; the host's default (90) when omitted. */
    timeout?: number;
  }

  /** HttpRequestResult. */
  interface HttpRequestResult {
    /** The HTTP status, or 0 / a negative code when no response came (-7 timeout, -1 unknown error, ...). */
    code: number;
    /** The response body. */
    text: string;
    /** The response headers. */
    headers: { key: string; value: string }[];
    /** The response headers as "Name: value" lines. */
    raw_headers: string;
    /** What went wrong, when the request failed. */
    error?: string;
  }

  /** Performs a request; the Promise resolves with the result, also when the request failed. */
  function httpRequestAsync(url: string, options?: HttpRequestOptions): Promise<HttpRequestResult>;
  /** Performs a request and calls callback with the result. */
  function httpRequest(url: string, callback: (result: HttpRequestResult) => void, options?: HttpRequestOptions): void;
}

// ---------------------------------------------------------------- modules

/** Voximplant's module names, for require. */
declare const Modules: {
  readonly ACD: "acd";
  readonly AI: "ai";
  readonly ApplicationStorage: "applicationstorage";
  readonly ASR: "asr";
  readonly Avatar: "avatar";
  readonly CallList: "calllist";
  readonly Cartesia: "cartesia";
  readonly Conference: "conference";
  readonly Deepgram: "deepgram";
  readonly ElevenLabs: "elevenlabs";
  readonly Gemini: "gemini";
  readonly Grok: "grok";
  readonly IVR: "ivr";
  readonly OpenAI: "openai";
  readonly Player: "player";
  readonly PushService: "pushservice";
  readonly Recorder: "recorder";
  readonly SmartQueue: "smartqueue";
  readonly StreamingAgent: "streamingagent";
  readonly Ultravox: "ultravox";
  readonly VoximplantAPI: "voximplantapi";
  readonly Yandex: "yandex";
};

/**
 * Enables a module. No module is available in Vox yet: every call throws an
 * Error naming the module (and writes a warning), which ends the call.
 */
declare function require(module: (typeof Modules)[keyof typeof Modules]): void;

// ---------------------------------------------------------------- timers

/**
 * Runs callback once after delay milliseconds (0 when omitted), passing it any
 * further arguments; returns the timer's id. A session may have at most 100
 * active timers; one more throws a RangeError.
 */
declare function setTimeout<A extends unknown[]>(callback: (...args: A) => void, delay?: number, ...args: A): number;
/** Cancels a timer set with setTimeout. */
declare function clearTimeout(id?: number): void;
/**
 * Runs callback every delay milliseconds (at least 10), passing it any further
 * arguments; returns the timer's id. It counts against the 100-timer limit until
 * cleared.
 */
declare function setInterval<A extends unknown[]>(callback: (...args: A) => void, delay?: number, ...args: A): number;
/** Cancels a timer set with setInterval. */
declare function clearInterval(id?: number): void;
