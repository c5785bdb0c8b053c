// The scenario's one handle to the controller, and through it to the tenant's
// portal: the session's access URL. Events (S21) are queued by the controller
// as signed webhooks; the CRM answer (S8) is the portal's, relayed.
"use strict";

class Portal {
  /** @param {string} accessURL */
  constructor(accessURL) {
    this.accessURL = accessURL;
    /** @type {Promise<unknown>[]} */
    this.pending = [];
  }

  /**
   * report posts one event, StartCall, HangupCall or AddCallHistory, to
   * {accessURL}/events. The controller answers 202 once the webhook is queued;
   * anything else is logged, and the call goes on.
   * @param {"StartCall" | "HangupCall" | "AddCallHistory"} event
   * @param {Record<string, unknown>} data
   */
  report(event, data) {
    const body = JSON.stringify({ event, data });
    logBlock(`Send ${event}: ${body}`);
    const sent = Net.httpRequestAsync(`${this.accessURL}/events`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      postData: body,
      timeout: 10,
    }).then((res) => {
      if (res.code !== 202 && res.code !== 200) {
        logBlock(`${event} was not accepted: ${res.code} ${res.error || res.text}`);
      }
    });
    this.pending.push(sent);
  }

  /** settled resolves once every report has its answer: the session may end then. */
  settled() {
    return Promise.all(this.pending);
  }

  /**
   * responsible asks who is responsible for the caller (POST {accessURL}/route).
   * It resolves with the user id, or null when the portal names nobody, does
   * not answer in time (the controller's 504, or our own timeout) or answers
   * what we cannot read: the queue takes the call then. queueStart is the
   * portal's position of the even queue, when it keeps one (README.md).
   * @param {string} from
   * @param {string} to
   * @param {number} timeoutSeconds
   * @returns {Promise<{userId: number | null, queueStart: number | null}>}
   */
  async responsible(from, to, timeoutSeconds) {
    const res = await Net.httpRequestAsync(`${this.accessURL}/route`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      postData: JSON.stringify({ from, to }),
      timeout: timeoutSeconds,
    });
    const nobody = { userId: null, queueStart: null };
    if (res.code !== 200) {
      logBlock(`CRM routing failed: ${res.code} ${res.error || res.text.trim()}`, "Falling back to the queue");
      return nobody;
    }
    let answer;
    try {
      answer = JSON.parse(res.text);
    } catch (err) {
      logBlock(`CRM routing answer is not JSON: ${res.text.trim()}`, "Falling back to the queue");
      return nobody;
    }
    logBlock(`Get CRM routing answer: ${JSON.stringify(answer)}`);
    const userId = answer !== null && Number.isInteger(answer.userId) && answer.userId > 0 ? answer.userId : null;
    const queueStart = answer !== null && Number.isInteger(answer.queueStart) && answer.queueStart >= 0 ? answer.queueStart : null;
    return { userId, queueStart };
  }
}
