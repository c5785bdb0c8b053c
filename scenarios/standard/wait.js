// Events as promises, so that the call's steps read top to bottom (S12: the
// scenario runs step by step) instead of as a web of listeners.
"use strict";

/**
 * nextEvent resolves with the next of the named events of call, and stops
 * listening for all of them.
 * @template {CallEventName} K
 * @param {Call} call
 * @param {K[]} events
 * @returns {Promise<CallEvent<K>>}
 */
function nextEvent(call, events) {
  return new Promise((resolve) => {
    /** @param {CallEvent<K>} e */
    const once = (e) => {
      for (const name of events) {
        call.removeEventListener(name, once);
      }
      resolve(e);
    };
    for (const name of events) {
      call.addEventListener(name, once);
    }
  });
}

/**
 * sleep resolves after ms milliseconds (of the session's clock).
 * @param {number} ms
 * @returns {Promise<void>}
 */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CallerGone is thrown out of a step when the caller hung up during it. */
class CallerGone extends Error {
  constructor() {
    super("the caller hung up");
    this.name = "CallerGone";
  }
}

/**
 * playMelody plays one of the number's melodies to call: a URL or a file, or,
 * written "say:TEXT", TEXT spoken by the platform's speech synthesis, so that a
 * number can greet before anyone has recorded a prompt. Speech is said once
 * even where a melody would loop. Either way Call.PlaybackFinished follows.
 * @param {Call} call
 * @param {string} melody
 * @param {boolean} [loop]
 */
function playMelody(call, melody, loop = false) {
  if (melody.startsWith("say:")) call.say(melody.slice("say:".length));
  else call.startPlayback(melody, { loop });
}
