// The called number's settings (S12): fetched once per call from the
// controller's GET {accessURL}/config, checked, and completed with defaults.
// The schema is README.md's. A value that is wrong is logged and replaced by
// its default, so one typo in a portal's form costs a feature, not the call.
"use strict";

/**
 * @typedef {"voicemail" | "forward" | "hangup"} EndRule
 * @typedef {{
 *   title: string,
 *   blacklist: {numbers: string[], code: number},
 *   workHours: {enabled: boolean, timeZone: string, days: number[], from: string, to: string, holidays: string[], rule: EndRule},
 *   melodies: {welcome: string, wait: string, hold: string, voicemail: string, night: string},
 *   progressTone: string,
 *   directCode: {enabled: boolean, waitSeconds: number, extensions: Record<string, number>, rule: EndRule | "queue"},
 *   crm: {enabled: boolean, timeoutSeconds: number, ringSeconds: number},
 *   queue: {users: number[], type: "evenly" | "all", ringSeconds: number, rounds: number},
 *   users: {phoneLogin: string, webLogin: string},
 *   recording: {enabled: boolean, stereo: boolean},
 *   noAnswer: {rule: EndRule},
 *   forward: {to: string},
 *   voicemail: {maxSeconds: number},
 * }} Settings
 */

const END_RULES = ["voicemail", "forward", "hangup"];

/** The settings that are lists of numbers; every other list holds strings. */
const NUMBER_LISTS = ["queue.users", "workHours.days"];

/** @returns {Settings} */
function defaultSettings() {
  return {
    title: "",
    blacklist: { numbers: [], code: 603 },
    workHours: { enabled: false, timeZone: "UTC", days: [1, 2, 3, 4, 5], from: "09:00", to: "18:00", holidays: [], rule: "voicemail" },
    melodies: { welcome: "", wait: "", hold: "", voicemail: "", night: "" },
    progressTone: "US",
    directCode: { enabled: false, waitSeconds: 3, extensions: {}, rule: "queue" },
    crm: { enabled: false, timeoutSeconds: 5, ringSeconds: 20 },
    queue: { users: [], type: "evenly", ringSeconds: 15, rounds: 1 },
    users: { phoneLogin: "phone{id}", webLogin: "user{id}" },
    recording: { enabled: false, stereo: false },
    noAnswer: { rule: "hangup" },
    forward: { to: "" },
    voicemail: { maxSeconds: 120 },
  };
}

/**
 * checkSettings completes raw with the defaults. Every value it cannot use
 * becomes its default, and the list it returns says which and why.
 * @param {unknown} raw
 * @returns {{settings: Settings, problems: string[]}}
 */
function checkSettings(raw) {
  const settings = defaultSettings();
  /** @type {string[]} */
  const problems = [];
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    problems.push("the settings are not a JSON object; using the defaults");
    return { settings, problems };
  }
  const source = /** @type {Record<string, any>} */ (raw);
  const defaults = /** @type {Record<string, any>} */ (settings);
  for (const key of Object.keys(source)) {
    if (!(key in defaults)) {
      problems.push(`${key}: unknown setting, ignored`);
      continue;
    }
    const want = defaults[key];
    const got = source[key];
    if (typeof want !== "object") {
      defaults[key] = checkValue(key, want, got, problems);
      continue;
    }
    if (got === null || typeof got !== "object" || Array.isArray(got)) {
      problems.push(`${key}: want an object, got ${JSON.stringify(got)}`);
      continue;
    }
    for (const field of Object.keys(got)) {
      if (!(field in want)) {
        problems.push(`${key}.${field}: unknown setting, ignored`);
        continue;
      }
      want[field] = checkValue(`${key}.${field}`, want[field], got[field], problems);
    }
  }
  checkChoices(settings, problems);
  return { settings, problems };
}

/**
 * checkValue returns got when it has the default's type (a list of the
 * default's element type, an object of numbers for extensions), else the default.
 * @param {string} path
 * @param {any} fallback
 * @param {any} got
 * @param {string[]} problems
 */
function checkValue(path, fallback, got, problems) {
  const kind = (/** @type {any} */ v) => (Array.isArray(v) ? "list" : v === null ? "null" : typeof v);
  let ok = kind(got) === kind(fallback);
  if (ok && Array.isArray(got)) {
    const element = NUMBER_LISTS.includes(path) ? "number" : "string";
    ok = got.every((v) => typeof v === element);
  }
  if (ok && kind(got) === "object") {
    ok = Object.keys(got).every((k) => typeof got[k] === "number");
  }
  if (ok && typeof got === "number") {
    ok = Number.isFinite(got) && got >= 0;
  }
  if (!ok) {
    problems.push(`${path}: want a value like ${JSON.stringify(fallback)}, got ${JSON.stringify(got)}; using the default`);
    return fallback;
  }
  return got;
}

/**
 * checkChoices checks the settings that take one of a few words or a format.
 * @param {Settings} s
 * @param {string[]} problems
 */
function checkChoices(s, problems) {
  /** @type {[string, {rule: string}, string[], string][]} */
  const rules = [
    ["workHours.rule", s.workHours, END_RULES, "voicemail"],
    ["noAnswer.rule", s.noAnswer, END_RULES, "hangup"],
    ["directCode.rule", s.directCode, ["queue", ...END_RULES], "queue"],
  ];
  for (const [path, holder, allowed, fallback] of rules) {
    if (!allowed.includes(holder.rule)) {
      problems.push(`${path}: ${JSON.stringify(holder.rule)} is not one of ${allowed.join(", ")}; using ${fallback}`);
      holder.rule = fallback;
    }
  }
  if (s.queue.type !== "evenly" && s.queue.type !== "all") {
    problems.push(`queue.type: ${JSON.stringify(s.queue.type)} is not evenly or all; using evenly`);
    s.queue.type = "evenly";
  }
  for (const field of /** @type {const} */ (["from", "to"])) {
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(s.workHours[field])) {
      problems.push(`workHours.${field}: ${JSON.stringify(s.workHours[field])} is not a time like "09:00"; the working hours are off`);
      s.workHours.enabled = false;
    }
  }
  if (s.blacklist.code < 400 || s.blacklist.code > 699) {
    problems.push(`blacklist.code: ${s.blacklist.code} is not a SIP failure code (400-699); using 603`);
    s.blacklist.code = 603;
  }
  const defaults = defaultSettings().users;
  for (const field of /** @type {const} */ (["phoneLogin", "webLogin"])) {
    const template = s.users[field];
    if (template !== "" && !template.includes("{id}")) {
      problems.push(`users.${field}: ${JSON.stringify(template)} has no {id}, so every user would be one login; using ${defaults[field]}`);
      s.users[field] = defaults[field];
    }
  }
}

/**
 * fetchSettings asks the controller for the called number's settings, once per
 * call: a session is one call, and the controller keeps the document, so
 * asking it is cheap. A number without settings (404) runs on the defaults; a
 * controller that does not answer leaves the call without a plan (null).
 * @param {string} accessURL
 * @returns {Promise<Settings | null>}
 */
async function fetchSettings(accessURL) {
  const res = await Net.httpRequestAsync(`${accessURL}/config`, { timeout: 5 });
  let raw;
  if (res.code === 404) {
    logBlock("This number has no settings: running on the defaults");
    raw = {};
  } else if (res.code !== 200) {
    logBlock(`Cannot get the number's settings: ${res.code} ${res.error || res.text}`);
    return null;
  } else {
    try {
      raw = JSON.parse(res.text);
    } catch (err) {
      logBlock(`The number's settings are not JSON: ${err}`);
      return null;
    }
  }
  const { settings, problems } = checkSettings(raw);
  if (raw !== null && typeof raw === "object" && Object.keys(raw).length > 0) {
    logBlock("Get number settings:", flattenForLog(raw).join(" / "));
  }
  if (problems.length > 0) {
    logBlock("Settings problems (the defaults are used instead):", ...problems);
  }
  return settings;
}
