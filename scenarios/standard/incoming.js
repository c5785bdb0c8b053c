// The standard incoming scenario (S12): the steps of one call to a tenant's
// number, driven by that number's settings (README.md). It is the last file
// of the rule; the others give it its parts:
//   log.js      the session log's blocks (S13)
//   wait.js     events as promises
//   settings.js the number's settings, fetched and checked
//   portal.js   the controller: events (S21) and CRM routing
//   calendar.js working hours and holidays
//   ringing.js  users, their phones and web clients (S22), the queue
//   noanswer.js voicemail, forward, hang up
"use strict";

/** Application.Started: the session's ids and its access URL. */
let sessionInfo = { accessURL: "", accountId: 0, applicationId: 0, logURL: "", sessionId: 0 };

VoxEngine.addEventListener(AppEvents.Started, (e) => {
  sessionInfo = e;
});

/** @type {IncomingCall | null} the session's call */
let incomingCall = null;

VoxEngine.addEventListener(AppEvents.HttpRequest, (e) => {
  logBlock(`Get command from portal: ${e.content}`);
  if (incomingCall !== null) incomingCall.portalCommand(e.content);
});

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  incomingCall = new IncomingCall(e.call);
  incomingCall.run();
});

/** The seed's progress tone while the settings are fetched (S23). */
const ALERTING_TONE_COUNTRY = "US";

class IncomingCall {
  /** @param {Call} caller */
  constructor(caller) {
    this.caller = caller;
    this.portal = new Portal(sessionInfo.accessURL);
    this.settings = defaultSettings();
    this.ringer = new Ringer(caller, this.settings);
    /** Rings the users the portal names while the call waits (S20). */
    this.portalRinger = new Ringer(caller, this.settings);
    /** Whether users are being rung: the portal may add one then. */
    this.ringing = false;
    this.startedAt = Date.now();
    /** @type {Answer | null} who took the call */
    this.operator = null;
    /** @type {Call | null} a forward still ringing */
    this.forwarded = null;
    /** @type {"answered" | "forwarded" | "voicemail" | "missed" | "blacklisted" | "failed"} */
    this.status = "missed";
    this.code = 487;
    this.reason = "The caller hung up";
    this.recordUrl = "";
    this.voicemail = false;
    this.onHold = false;
    /** The quality meter of the user's client (S20): the worst report and how many came. */
    this.quality = { percent: 100, grade: 5, reports: 0 };
    this.left = false;
    this.finished = false;
    /** @type {() => void} */
    let leave = () => {};
    /** @type {Promise<void>} */
    this.gone = new Promise((resolve) => {
      leave = resolve;
    });
    caller.addEventListener(CallEvents.Disconnected, (d) => {
      this.left = true;
      leave();
      this.finish(d.duration);
    });
    caller.addEventListener(CallEvents.RecordStarted, (r) => {
      this.recordUrl = r.url;
      logBlock(`Start recording call: ${r.url}`);
    });
  }

  /**
   * guard waits for step, or throws CallerGone as soon as the caller hangs
   * up, so that no step waits for a call that is over.
   * @template T
   * @param {Promise<T>} step
   * @returns {Promise<T>}
   */
  async guard(step) {
    const result = await Promise.race([step, this.gone.then(() => CALLER_LEFT)]);
    if (result === CALLER_LEFT || this.left) throw new CallerGone();
    return /** @type {T} */ (result);
  }

  async run() {
    try {
      await this.steps();
    } catch (err) {
      if (!(err instanceof CallerGone)) throw err;
    }
  }

  async steps() {
    const { caller } = this;
    VoxEngine.customData(caller.id());
    caller.startEarlyMedia();
    caller.playProgressTone(ALERTING_TONE_COUNTRY);
    logBlock(
      "Standard incoming scenario",
      `Call callerId: ${caller.callerid()}`,
      `Call destination: ${caller.number()}`,
      `Call displayName: ${caller.displayName()}`,
    );
    const settings = await this.guard(fetchSettings(sessionInfo.accessURL));
    if (settings === null) {
      this.reject("failed", 480, "No settings for the number");
      return;
    }
    this.settings = settings;
    this.ringer = new Ringer(caller, settings);
    this.portalRinger = new Ringer(caller, settings);

    if (isBlacklisted(settings.blacklist.numbers, caller.callerid())) {
      logBlock(`Caller ${caller.callerid()} is blacklisted: rejecting with ${settings.blacklist.code}`);
      this.reject("blacklisted", settings.blacklist.code, "Blacklisted");
      return;
    }
    const hours = workingTime(settings.workHours, Date.now());
    logBlock(`Working time: ${hours.why}`);

    caller.answer();
    await this.guard(nextEvent(caller, [CallEvents.Connected]));
    if (!hours.open) {
      await this.night();
      return;
    }

    const code = await this.directCode();
    this.playWaiting();
    this.ringing = true;
    /** @type {number[]} */
    const tried = [];
    if (code !== "") {
      const userId = settings.directCode.extensions[code];
      if (userId === undefined) {
        logBlock(`Direct code ${code} is no extension; ringing as usual`);
      } else {
        logBlock(`Direct code ${code}: user ${userId}`);
        const answer = await this.guard(this.ringer.ring([userId], settings.queue.ringSeconds));
        if (answer !== null) return this.connect(answer, "answered");
        if (this.operator !== null) return;
        if (settings.directCode.rule !== "queue") {
          this.ringing = false;
          return endWith(this, settings.directCode.rule, `extension ${code} did not answer`);
        }
        tried.push(userId);
      }
    }

    let queueStart = Math.floor(this.startedAt / 1000);
    if (settings.crm.enabled) {
      const route = await this.guard(this.portal.responsible(caller.callerid(), caller.number(), settings.crm.timeoutSeconds));
      if (route.queueStart !== null) queueStart = route.queueStart;
      if (route.userId !== null && !tried.includes(route.userId)) {
        logBlock(`CRM: user ${route.userId} is responsible for ${caller.callerid()}`);
        const answer = await this.guard(this.ringer.ring([route.userId], settings.crm.ringSeconds));
        if (answer !== null) return this.connect(answer, "answered");
        if (this.operator !== null) return;
        tried.push(route.userId);
      }
    }

    const answer = await this.guard(this.ringer.queue(tried, queueStart));
    if (answer !== null) return this.connect(answer, "answered");
    if (this.operator !== null) return;
    this.ringing = false;
    await endWith(this, settings.noAnswer.rule, "nobody answered");
  }

  /** night greets the caller outside the working hours, then applies the night rule. */
  async night() {
    const { caller, settings } = this;
    if (settings.melodies.night !== "") {
      playMelody(caller, settings.melodies.night);
      await this.guard(nextEvent(caller, [CallEvents.PlaybackFinished]));
    }
    await endWith(this, settings.workHours.rule, "outside the working hours");
  }

  /**
   * directCode plays the greeting and, when direct codes are on, collects the
   * extension the caller dials during it (S12): digits until # or until
   * directCode.waitSeconds pass without one after the greeting. The first
   * digit cuts the greeting short.
   * @returns {Promise<string>}
   */
  async directCode() {
    const { caller, settings } = this;
    const welcome = settings.melodies.welcome;
    if (!settings.directCode.enabled) {
      if (welcome !== "") {
        playMelody(caller, welcome);
        await this.guard(nextEvent(caller, [CallEvents.PlaybackFinished]));
      }
      return "";
    }
    let digits = "";
    caller.handleTones(true);
    const collected = new Promise((resolve) => {
      let greeting = welcome !== "";
      /** @type {number | undefined} */
      let timer;
      const done = () => {
        clearTimeout(timer);
        caller.removeEventListener(CallEvents.ToneReceived, onTone);
        caller.removeEventListener(CallEvents.PlaybackFinished, onGreeted);
        resolve(undefined);
      };
      const waitForMore = () => {
        clearTimeout(timer);
        timer = setTimeout(done, settings.directCode.waitSeconds * 1000);
      };
      /** @param {CallEvent<"Call.ToneReceived">} e */
      const onTone = (e) => {
        if (greeting) {
          greeting = false;
          caller.stopPlayback();
        }
        if (e.tone === "#") return done();
        digits += e.tone;
        waitForMore();
      };
      const onGreeted = () => {
        if (!greeting) return;
        greeting = false;
        waitForMore();
      };
      caller.addEventListener(CallEvents.ToneReceived, onTone);
      caller.addEventListener(CallEvents.PlaybackFinished, onGreeted);
      if (greeting) playMelody(caller, welcome);
      else waitForMore();
    });
    await this.guard(collected);
    caller.handleTones(false);
    logBlock(`Direct code is: ${digits === "" ? "none" : digits}`);
    return digits;
  }

  /** playWaiting plays the wait melody, or the progress tone, while users are rung. */
  playWaiting() {
    const { caller, settings } = this;
    if (settings.melodies.wait !== "") playMelody(caller, settings.melodies.wait, true);
    else caller.playProgressTone(settings.progressTone);
  }

  /**
   * connect puts the caller through to whoever answered, records the call
   * when the number says so, and tells the portal (StartCall).
   * @param {Answer} answer
   * @param {"answered" | "forwarded"} status
   */
  connect(answer, status) {
    const { caller, settings } = this;
    if (this.operator !== null) {
      // Two answered at once (a queue user and one the portal named): the
      // first keeps the call.
      answer.call.hangup();
      return;
    }
    this.ringing = false;
    this.operator = answer;
    this.forwarded = null;
    this.status = status;
    this.code = 200;
    this.reason = "Success call";
    logBlock(`Action: Connect to ${answer.login}`, `from number: ${caller.callerid()}`);
    caller.stopPlayback();
    VoxEngine.sendMediaBetween(caller, answer.call);
    if (settings.recording.enabled) caller.record({ stereo: settings.recording.stereo });
    this.portal.report("StartCall", {
      callId: caller.id(),
      userId: answer.userId,
      login: answer.login,
      device: answer.device,
      external: answer.external,
    });
    answer.call.addEventListener(CallEvents.MessageReceived, (m) => this.userCommand(m.text));
    // A desk phone or softphone holds with its own key (a re-INVITE), not
    // with a message: the caller hears the same.
    answer.call.addEventListener(CallEvents.OnHold, () => this.hold(true));
    answer.call.addEventListener(CallEvents.OffHold, () => this.hold(false));
    answer.call.addEventListener(CallEvents.Disconnected, () => {
      if (caller.state() !== "TERMINATED") caller.hangup();
    });
  }

  /**
   * portalCommand carries out the portal's command into the call (S20):
   * {"COMMAND":"user","USER_ID":67} rings that user at once, beside whoever
   * is ringing, and the first to answer takes the call, as the seed's portal
   * connects the user who picks the call up in the browser. "wait" and
   * "queue" only tell that the portal saw the call; they are logged.
   * @param {string} text
   */
  async portalCommand(text) {
    let command;
    try {
      command = JSON.parse(text);
    } catch (err) {
      return;
    }
    if (command === null || typeof command !== "object" || command.COMMAND !== "user") return;
    const userId = Number(command.USER_ID);
    if (!Number.isInteger(userId) || userId <= 0 || !this.ringing || this.operator !== null) return;
    logBlock(`The portal asks to connect user ${userId}`);
    const answer = await this.portalRinger.ring([userId], this.settings.queue.ringSeconds);
    if (answer === null || this.finished) return;
    this.ringer.stop();
    this.connect(answer, "answered");
  }

  /**
   * userCommand carries out an in-call message from the user's client (S20):
   * hold, unhold, and the quality meter, kept for the call history.
   * @param {string} text
   */
  userCommand(text) {
    logBlock(`Get command from user: ${text}`);
    let command;
    try {
      command = JSON.parse(text);
    } catch (err) {
      return;
    }
    if (this.operator === null || command === null || typeof command !== "object") return;
    switch (command.COMMAND) {
      case "hold":
        this.hold(true);
        return;
      case "unhold":
        this.hold(false);
        return;
      case "meter":
        if (Number.isFinite(command.PERCENT)) this.quality.percent = Math.min(this.quality.percent, command.PERCENT);
        if (Number.isFinite(command.GRADE)) this.quality.grade = Math.min(this.quality.grade, command.GRADE);
        this.quality.reports++;
        return;
    }
  }

  /**
   * hold puts the caller on hold, where they hear melodies.hold (or the
   * progress tone), or takes them back to the user who answered.
   * @param {boolean} on
   */
  hold(on) {
    const { caller, operator, settings } = this;
    if (operator === null || on === this.onHold) return;
    this.onHold = on;
    if (on) {
      VoxEngine.stopMediaBetween(caller, operator.call);
      if (settings.melodies.hold !== "") playMelody(caller, settings.melodies.hold, true);
      else caller.playProgressTone(settings.progressTone);
      return;
    }
    caller.stopPlayback();
    VoxEngine.sendMediaBetween(caller, operator.call);
  }

  /**
   * reject turns the call away before answering, with a SIP code (S24).
   * @param {"blacklisted" | "failed"} status
   * @param {number} code
   * @param {string} reason
   */
  reject(status, code, reason) {
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.caller.reject(code);
    this.finish(0);
  }

  /**
   * hangUp ends an answered call that nobody took.
   * @param {"missed"} status
   * @param {number} code
   * @param {string} reason
   */
  hangUp(status, code, reason) {
    this.status = status;
    this.code = code;
    this.reason = reason;
    this.caller.hangup();
  }

  /**
   * finish runs once, when the caller's call is over: it lets go of every
   * other call, reports the end and the call history (S21), and ends the
   * session once the controller has them.
   * @param {number} duration seconds
   */
  async finish(duration) {
    if (this.finished) return;
    this.finished = true;
    this.ringer.stop();
    this.portalRinger.stop();
    for (const call of [this.operator && this.operator.call, this.forwarded]) {
      if (call && call.state() !== "TERMINATED") call.hangup();
    }
    const { caller } = this;
    const userId = this.operator === null ? null : this.operator.userId;
    this.portal.report("HangupCall", {
      callId: caller.id(),
      from: caller.callerid(),
      to: caller.number(),
      userId,
      code: this.code,
      reason: this.reason,
    });
    this.portal.report("AddCallHistory", {
      callId: caller.id(),
      sessionId: sessionInfo.sessionId,
      accountId: sessionInfo.accountId,
      applicationId: sessionInfo.applicationId,
      direction: "incoming",
      from: caller.callerid(),
      to: caller.number(),
      userId,
      device: this.operator === null ? null : this.operator.device,
      startedAt: new Date(this.startedAt).toISOString(),
      duration,
      status: this.status,
      code: this.code,
      reason: this.reason,
      recordUrl: this.recordUrl,
      voicemail: this.voicemail,
      quality: this.quality.reports > 0 ? this.quality : null,
      logUrl: sessionInfo.logURL,
    });
    await this.portal.settled();
    VoxEngine.terminate();
  }
}

/** What guard's race yields when the caller left first. */
const CALLER_LEFT = Symbol("caller left");

/**
 * isBlacklisted compares numbers as digits only: "+7 (495) 000-00-00" is
 * listed as 74950000000, the form the controller stores (S18).
 * @param {string[]} numbers
 * @param {string} callerid
 */
function isBlacklisted(numbers, callerid) {
  const digits = (/** @type {string} */ n) => n.replace(/\D/g, "");
  const caller = digits(callerid);
  return caller !== "" && numbers.some((n) => digits(n) === caller);
}
