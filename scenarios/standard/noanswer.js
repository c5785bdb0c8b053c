// What happens when nobody takes the call, or outside the working hours (S12):
// voicemail, a forward to another number or line, or hanging up.
"use strict";

/**
 * endWith carries out an end rule.
 * @param {IncomingCall} ic
 * @param {EndRule} rule
 * @param {string} why
 */
async function endWith(ic, rule, why) {
  logBlock(`Rule: ${rule} (${why})`);
  switch (rule) {
    case "voicemail":
      return leaveVoicemail(ic);
    case "forward":
      return forwardCall(ic);
    default:
      ic.hangUp("missed", 480, "Nobody answered");
  }
}

/**
 * leaveVoicemail plays the voicemail prompt and records what the caller says,
 * for at most voicemail.maxSeconds. The record's URL goes to the portal with
 * the call history (AddCallHistory), when the caller hangs up.
 * @param {IncomingCall} ic
 */
async function leaveVoicemail(ic) {
  const { caller, settings } = ic;
  caller.stopPlayback();
  if (settings.melodies.voicemail !== "") {
    playMelody(caller, settings.melodies.voicemail);
    await ic.guard(nextEvent(caller, [CallEvents.PlaybackFinished]));
  }
  ic.status = "voicemail";
  ic.code = 200;
  ic.reason = "Voicemail";
  ic.voicemail = true;
  caller.record({ stereo: false });
  logBlock(`Recording a voicemail of at most ${settings.voicemail.maxSeconds} s`);
  setTimeout(() => {
    if (caller.state() !== "TERMINATED") {
      logBlock("The voicemail is as long as it may be");
      caller.hangup();
    }
  }, settings.voicemail.maxSeconds * 1000);
}

/**
 * forwardCall rings forward.to, a phone number through the account's trunk
 * or a SIP URI (a line: the tenant's PBX), for the queue's ring time, and
 * connects the caller when it answers.
 * @param {IncomingCall} ic
 */
async function forwardCall(ic) {
  const { caller, settings } = ic;
  const to = settings.forward.to;
  if (to === "") {
    logBlock("Forward: forward.to is not set");
    ic.hangUp("missed", 480, "Nobody answered");
    return;
  }
  logBlock(`Action: Forward to ${to}`, `from number: ${caller.callerid()}`);
  // A trunk shows our number as the caller (carriers refuse a number that is
  // not ours); a SIP line may be told who is really calling.
  const out = to.startsWith("sip:")
    ? VoxEngine.callSIP(to, { callerid: caller.callerid(), displayName: caller.displayName() })
    : VoxEngine.callPSTN(to, caller.number());
  ic.forwarded = out;
  const seconds = settings.queue.ringSeconds;
  const result = await ic.guard(
    Promise.race([nextEvent(out, [CallEvents.Connected, CallEvents.Failed]), sleep(seconds * 1000).then(() => null)]),
  );
  if (result === null || result.name === CallEvents.Failed) {
    logBlock(`Forward to ${to} failed: ${result === null ? `no answer in ${seconds} s` : `${result.code} ${result.reason}`}`);
    if (out.state() !== "TERMINATED") out.hangup();
    ic.hangUp("missed", 480, "Nobody answered");
    return;
  }
  ic.connect({ call: out, userId: null, login: to, device: "PHONE", external: true }, "forwarded");
}
