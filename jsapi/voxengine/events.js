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
});

// ListenerRegistry keeps the listeners of one event source (VoxEngine or one
// Call). It accepts only the event names it was built with: a scenario written
// for Voximplant may pass a constant Vox does not implement yet (for example
// CallEvents.OnHold, which is undefined here), and a silent registration would
// leave the scenario waiting for an event that never comes.
class ListenerRegistry {
  #owner;
  #known;
  #listeners = new Map();

  // owner names the source in error messages ("VoxEngine", "Call");
  // constants is the frozen object of names the source can fire.
  constructor(owner, constants) {
    this.#owner = owner;
    this.#known = new Set(Object.values(constants));
  }

  add(event, listener) {
    this.#check("addEventListener", event);
    if (typeof listener !== "function") {
      throw new TypeError(
        `${this.#owner}.addEventListener(${event}): the listener must be a function, got ${typeof listener}`,
      );
    }
    const list = this.#listeners.get(event) || [];
    // Like DOM EventTarget: the same function registered twice runs once, so
    // one removeEventListener call undoes any number of identical adds.
    if (!list.includes(listener)) {
      list.push(listener);
    }
    this.#listeners.set(event, list);
  }

  // remove drops one listener, or every listener of the event when listener is
  // omitted (Voximplant's documented behaviour).
  remove(event, listener) {
    this.#check("removeEventListener", event);
    if (listener === undefined) {
      this.#listeners.delete(event);
      return;
    }
    const list = this.#listeners.get(event);
    if (list) {
      const at = list.indexOf(listener);
      if (at >= 0) {
        list.splice(at, 1);
      }
    }
  }

  // emit runs every listener of the event. A listener that throws does not
  // stop the others; once all have run, the first error is rethrown so the
  // runtime logs it with its stack and ends the call, as it does for any
  // uncaught scenario error. Later errors are reported through host.warn.
  emit(event, payload) {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) {
      return;
    }
    let first = null;
    // Iterate over a snapshot so a listener may add or remove listeners; one
    // removed by an earlier listener in the same round is skipped.
    for (const listener of list.slice()) {
      if (!list.includes(listener)) {
        continue;
      }
      try {
        listener(payload);
      } catch (err) {
        if (first === null) {
          first = { err };
        } else {
          host.warn(`another ${event} listener also threw: ${describeError(err)}`);
        }
      }
    }
    if (first !== null) {
      throw first.err;
    }
  }

  #check(method, event) {
    if (!this.#known.has(event)) {
      const known = Array.from(this.#known).join(", ");
      throw new TypeError(
        `${this.#owner}.${method}: unknown event ${quoteValue(event)}; ` +
          `the constant used is not implemented in Vox (known events: ${known})`,
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
