// The session log's scenario lines (S13), in the seed's shape: a block of lines
// between rules, with an empty line either side, so that support reading a log
// finds each step of the scenario at a glance.
"use strict";

const LOG_RULE = "-".repeat(90);

/**
 * Writes lines as one block of the session log.
 * @param {...string} lines
 */
function logBlock(...lines) {
  Logger.write(["", LOG_RULE, ...lines, LOG_RULE, ""].join("\n"));
}

/**
 * flattenForLog shows a settings object as the seed's log shows its config:
 * "KEY: value / KEY: value", nested keys joined with dots.
 * @param {unknown} value
 * @param {string} [prefix]
 * @returns {string[]}
 */
function flattenForLog(value, prefix = "") {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const shown = Array.isArray(value) ? value.join(", ") : String(value);
    return [`${prefix}: ${shown}`];
  }
  const out = [];
  for (const key of Object.keys(value)) {
    out.push(...flattenForLog(/** @type {Record<string, unknown>} */ (value)[key], prefix === "" ? key : `${prefix}.${key}`));
  }
  return out;
}
