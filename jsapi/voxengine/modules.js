// Modules and require: Voximplant scenarios enable optional functionality
// with require(Modules.X). The constants carry Voximplant's values so a
// scenario's require line reads the same on both platforms.

// Modules is published lazily (publishLazy in voxengine.js): a frozen table of
// this size costs every session some ten microseconds, and most scenarios
// require nothing.
let modulesTable;

function modulesAPI() {
  if (modulesTable !== undefined) {
    return modulesTable;
  }
  modulesTable = Object.freeze({
    ACD: "acd",
    AI: "ai",
    ApplicationStorage: "applicationstorage",
    ASR: "asr",
    Avatar: "avatar",
    CallList: "calllist",
    Cartesia: "cartesia",
    Conference: "conference",
    Deepgram: "deepgram",
    ElevenLabs: "elevenlabs",
    Gemini: "gemini",
    Grok: "grok",
    IVR: "ivr",
    OpenAI: "openai",
    Player: "player",
    PushService: "pushservice",
    Recorder: "recorder",
    SmartQueue: "smartqueue",
    StreamingAgent: "streamingagent",
    Ultravox: "ultravox",
    VoximplantAPI: "voximplantapi",
    Yandex: "yandex",
  });
  return modulesTable;
}

// moduleInstallers maps a Modules value to the function that installs it on
// global. A module Vox implements is registered here in one line, by the
// value itself rather than through Modules, which would build the table in
// every session, e.g.
//   moduleInstallers.player = installPlayer; // Modules.Player
// and every other known module is refused by require with a clear error.
const moduleInstallers = Object.create(null);

// Modules already installed in this session, by Modules value: require is
// idempotent.
const installedModules = Object.create(null);

// require(module) installs a module, or throws an Error naming what is
// missing. Scenarios usually call it on their first lines, so the error ends
// the call at once with a message support can act on, instead of a
// ReferenceError much later. The warning goes to the server log as well.
function require(module) {
  const install = typeof module === "string" ? moduleInstallers[module] : undefined;
  if (install !== undefined) {
    if (installedModules[module] !== true) {
      install();
      installedModules[module] = true;
    }
    return;
  }
  const modules = modulesAPI();
  const name = Object.keys(modules).find((k) => modules[k] === module);
  let message;
  if (name !== undefined) {
    message = `module Modules.${name} is not available in Vox`;
  } else {
    message = `require: unknown module ${quoteValue(module)}; pass one of the Modules constants`;
  }
  host.warn(message);
  throw new Error(message);
}
