// Event names and the listener registry shared by VoxEngine and Call.
//
// The constants' values are the engine protocol's event names, so a listener
// registered for AppEvents.CallAlerting receives exactly the event the session
// log shows as "Application.CallAlerting" (docs/engine-protocol.md).

const AppEvents = Object.freeze({
  Started: "Application.Started",
  CallAlerting: "Application.CallAlerting",
  HttpRequest: "Application.HttpRequest",
  Terminating: "Application.Terminating",
  Terminated: "Application.Terminated",
});

const CallEvents = Object.freeze({
  Ringing: "Call.Ringing",
  AudioStarted: "Call.AudioStarted",
  Connected: "Call.Connected",
  Failed: "Call.Failed",
  Disconnected: "Call.Disconnected",
  PlaybackFinished: "Call.PlaybackFinished",
  RecordStarted: "Call.RecordStarted",
  RecordStopped: "Call.RecordStopped",
  ToneReceived: "Call.ToneReceived",
  MessageReceived: "Call.MessageReceived",
  BlindTransferRequested: "Call.BlindTransferRequested",
  InfoReceived: "Call.InfoReceived",
  OnHold: "Call.OnHold",
  OffHold: "Call.OffHold",
});

// ListenerRegistry keeps the listeners of one event source (VoxEngine or one
// Call). It accepts only the event names it was built with: a scenario written
// for Voximplant may pass a constant Vox does not implement yet (for example
// CallEvents.ReInviteReceived, which is undefined here), and a silent
// registration would leave the scenario waiting for an event that never comes.
//
// Every VM builds this layer afresh, so it keeps to plain objects and prototype
// methods: a Map or a Set would make goja build those built-ins in every
// session, and the registry is never handed to the scenario, so it needs no
// private fields.
class ListenerRegistry {
  // owner names the source in error messages ("VoxEngine", "Call");
  // constants is the frozen object of names the source can fire.
  constructor(owner, constants) {
    this.owner = owner;
    this.constants = constants;
    // Event name to {listeners}. A listener array is never changed once
    // stored: add and remove store a new one, so emit walks the array it
    // found without copying it.
    this.entries = Object.create(null);
  }

  add(event, listener) {
    this.check("addEventListener", event);
    if (typeof listener !== "function") {
      throw new TypeError(
        `${this.owner}.addEventListener(${event}): the listener must be a function, got ${typeof listener}`,
      );
    }
    const entry = this.entries[event];
    if (entry === undefined) {
      this.entries[event] = { listeners: [listener] };
    } else if (!entry.listeners.includes(listener)) {
      // Like DOM EventTarget: the same function registered twice runs once,
      // so one removeEventListener call undoes any number of identical adds.
      entry.listeners = entry.listeners.concat([listener]);
    }
  }

  // remove drops one listener, or every listener of the event when listener is
  // omitted (Voximplant's documented behaviour).
  remove(event, listener) {
    this.check("removeEventListener", event);
    if (listener === undefined) {
      delete this.entries[event];
      return;
    }
    const entry = this.entries[event];
    if (entry !== undefined && entry.listeners.includes(listener)) {
      entry.listeners = entry.listeners.filter((l) => l !== listener);
    }
  }

  // listening tells whether emit would run anything, so that a caller builds
  // the payload only for listeners that exist.
  listening(event) {
    const entry = this.entries[event];
    return entry !== undefined && entry.listeners.length > 0;
  }

  // emit runs every listener of the event. A listener that throws does not
  // stop the others; once all have run, the first error is rethrown so the
  // runtime logs it with its stack and ends the call, as it does for any
  // uncaught scenario error. Later errors are reported through host.warn.
  // emit returns the first value a listener returned that is not undefined:
  // an HttpRequest listener answers the request that way.
  emit(event, payload) {
    const entry = this.entries[event];
    if (entry === undefined) {
      return undefined;
    }
    let result;
    // The round runs the listeners registered when it began: one added by a
    // listener waits for the next event, and one removed by an earlier
    // listener in the same round is skipped.
    const listeners = entry.listeners;
    let failed = false;
    let first;
    for (let i = 0; i < listeners.length; i++) {
      const listener = listeners[i];
      if (entry.listeners !== listeners && !entry.listeners.includes(listener)) {
        continue;
      }
      try {
        const value = listener(payload);
        if (result === undefined) {
          result = value;
        }
      } catch (err) {
        if (!failed) {
          failed = true;
          first = err;
        } else {
          host.warn(`another ${event} listener also threw: ${describeError(err)}`);
        }
      }
    }
    if (failed) {
      throw first;
    }
    return result;
  }

  check(method, event) {
    // Every constant's value is its source's prefix and its key
    // ("Call.Connected"), so the key after the dot finds a known name at once;
    // only an unknown one walks all the values, for the error. (An inherited
    // property such as "constructor" is never a string, so never matches.)
    if (typeof event === "string" && this.constants[event.slice(event.indexOf(".") + 1)] === event) {
      return;
    }
    const known = Object.values(this.constants);
    if (!known.includes(event)) {
      throw new TypeError(
        `${this.owner}.${method}: unknown event ${quoteValue(event)}; ` +
          `the constant used is not implemented in Vox (known events: ${known.join(", ")})`,
      );
    }
  }
}

// quoteValue shows a value in an error message: strings quoted, so an empty or
// misspelt name stands out, and anything else (undefined, a number) as is.
function quoteValue(value) {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function describeError(err) {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
