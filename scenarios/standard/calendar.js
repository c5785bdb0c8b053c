// Working hours and holidays (S12), in the number's own time zone: a call at
// 08:30 UTC is inside Moscow's 09:00-18:00 and outside London's.
"use strict";

/**
 * workingTime tells whether the moment now falls in the working hours, and
 * says why not when it does not.
 * @param {Settings["workHours"]} hours
 * @param {number} now milliseconds since the epoch (Date.now())
 * @returns {{open: boolean, why: string}}
 */
function workingTime(hours, now) {
  if (!hours.enabled) {
    return { open: true, why: "no working hours are set" };
  }
  let local;
  try {
    local = VoxEngine.zonedTime(hours.timeZone, now);
  } catch (err) {
    // A zone the settings misspelt must not turn every call away.
    return { open: true, why: `${err}; working hours not applied` };
  }
  const at = `${local.date} ${local.time} ${hours.timeZone}`;
  if (hours.holidays.includes(local.date)) {
    return { open: false, why: `${at} is a holiday` };
  }
  if (!hours.days.includes(local.weekday)) {
    return { open: false, why: `${at} is a day off` };
  }
  // "HH:MM" strings compare as times. A range that wraps midnight (22:00 to
  // 06:00) is a night shift.
  const open =
    hours.from <= hours.to
      ? local.time >= hours.from && local.time < hours.to
      : local.time >= hours.from || local.time < hours.to;
  return { open, why: `${at} is ${open ? "within" : "outside"} ${hours.from}-${hours.to}` };
}
