// Ringing users (S22): a user is a SIP phone and a web client, rung at once;
// the first to answer wins and the others are cancelled. The queue (S12) rings
// users one after another (evenly) or all together, each for its ring time.
"use strict";

/**
 * @typedef {{call: Call, userId: number | null, login: string, device: "PHONE" | "WEBRTC", external: boolean}} Answer
 */

class Ringer {
  /**
   * @param {Call} caller
   * @param {Settings} settings
   */
  constructor(caller, settings) {
    this.caller = caller;
    this.settings = settings;
    /** Set when the caller left: nothing more is rung. */
    this.stopped = false;
    /** @type {(() => void) | null} ends the round that is ringing */
    this.abort = null;
  }

  /**
   * logins are the SIP users that reach a portal user, from the settings'
   * templates: phone67 (a desk or soft phone) and user67 (the web client).
   * @param {number} userId
   * @returns {{login: string, device: "PHONE" | "WEBRTC"}[]}
   */
  logins(userId) {
    const { phoneLogin, webLogin } = this.settings.users;
    /** @type {{login: string, device: "PHONE" | "WEBRTC"}[]} */
    const out = [];
    if (phoneLogin !== "") out.push({ login: phoneLogin.split("{id}").join(String(userId)), device: "PHONE" });
    if (webLogin !== "") out.push({ login: webLogin.split("{id}").join(String(userId)), device: "WEBRTC" });
    return out;
  }

  /**
   * ring rings every login of every user at once for seconds, and resolves
   * with the first answer, or null when nobody answered in time, every login
   * failed (busy, offline) or the caller left.
   * @param {number[]} userIds
   * @param {number} seconds
   * @returns {Promise<Answer | null>}
   */
  ring(userIds, seconds) {
    if (this.stopped) return Promise.resolve(null);
    return new Promise((resolve) => {
      /** @type {Answer[]} */
      const forks = [];
      let settled = false;
      let ringing = 0;
      /** @param {Answer | null} winner */
      const settle = (winner) => {
        if (settled) return;
        settled = true;
        this.abort = null;
        clearTimeout(timer);
        for (const f of forks) {
          if (f !== winner && f.call.state() !== "TERMINATED") f.call.hangup();
        }
        resolve(winner);
      };
      for (const userId of userIds) {
        for (const { login, device } of this.logins(userId)) {
          // A user's own phone calling the number (a tenant trying its
          // number, the demo) is not offered its own call.
          if (login === this.caller.callerid()) {
            logBlock(`${login} is the caller: not rung`);
            continue;
          }
          logBlock(`Action: Send invite to ${login}`, `from number: ${this.caller.callerid()}`);
          const call = VoxEngine.callUser({
            username: login,
            callerid: this.caller.callerid(),
            displayName: this.caller.displayName(),
          });
          /** @type {Answer} */
          const fork = { call, userId, login, device, external: false };
          forks.push(fork);
          ringing++;
          call.addEventListener(CallEvents.Connected, () => {
            // A fork that answers as another wins is too late: it is let go.
            if (settled) call.hangup();
            else settle(fork);
          });
          call.addEventListener(CallEvents.Failed, (e) => {
            if (settled) return;
            logBlock(`${login} did not take the call: ${e.code} ${e.reason}`);
            if (--ringing === 0) settle(null);
          });
        }
      }
      const timer = setTimeout(() => {
        logBlock(`Nobody of ${userIds.join(", ")} answered in ${seconds} s`);
        settle(null);
      }, seconds * 1000);
      this.abort = () => settle(null);
      if (forks.length === 0) settle(null);
    });
  }

  /**
   * stop cancels what is ringing and every later round: the caller left, or
   * someone the portal named took the call.
   */
  stop() {
    this.stopped = true;
    if (this.abort !== null) this.abort();
  }

  /**
   * queue rings the queue's users, leaving out those already tried, and
   * resolves with the answer or null. Evenly rings one user at a time,
   * starting at start (taken modulo the queue's size); all rings everybody.
   * @param {number[]} tried
   * @param {number} start
   * @returns {Promise<Answer | null>}
   */
  async queue(tried, start) {
    const { users, type, ringSeconds, rounds } = this.settings.queue;
    const left = users.filter((u) => !tried.includes(u));
    if (left.length === 0) {
      logBlock("The queue has nobody (else) to ring");
      return null;
    }
    const first = start % left.length;
    const order = left.slice(first).concat(left.slice(0, first));
    const ringing = type === "all" ? `all at once for ${ringSeconds} s` : `${ringSeconds} s each`;
    logBlock(`Queue (${type}): ${order.join(", ")}; ${ringing}, ${Math.max(rounds, 1)} round(s)`);
    for (let round = 0; round < Math.max(rounds, 1); round++) {
      if (type === "all") {
        const answer = await this.ring(order, ringSeconds);
        if (answer !== null || this.stopped) return answer;
        continue;
      }
      for (const userId of order) {
        const answer = await this.ring([userId], ringSeconds);
        if (answer !== null || this.stopped) return answer;
      }
    }
    return null;
  }
}
