package scenariogen

// BareHost is the least a plain goja runtime needs to run the scenario: the
// VoxEngine globals as plain objects whose methods do nothing, and __dispatch to
// hand an event to the listeners. The benchmark runs it before the scenario in
// its bare-goja baseline, so that the baseline does the scenario's own work and
// nothing of Vox's.
const BareHost = `var __listeners = {};
var AppEvents = { Started: "Application.Started", CallAlerting: "Application.CallAlerting",
  HttpRequest: "Application.HttpRequest", Terminating: "Application.Terminating",
  Terminated: "Application.Terminated" };
var CallEvents = { Ringing: "Call.Ringing", AudioStarted: "Call.AudioStarted", Connected: "Call.Connected",
  Failed: "Call.Failed", Disconnected: "Call.Disconnected", PlaybackFinished: "Call.PlaybackFinished",
  RecordStarted: "Call.RecordStarted", RecordStopped: "Call.RecordStopped",
  ToneReceived: "Call.ToneReceived", MessageReceived: "Call.MessageReceived" };
var Logger = { write: function (text) {} };
var Net = { httpRequestAsync: function () { return new Promise(function () {}); } };
function __noop() {}
function __Call(id) { this._id = id; }
__Call.prototype = { id: function () { return this._id; }, state: function () { return "ALERTING"; },
  addEventListener: __noop, startEarlyMedia: __noop, playProgressTone: __noop, answer: __noop,
  reject: __noop, hangup: __noop, say: __noop, record: __noop, handleTones: __noop, stopPlayback: __noop };
var VoxEngine = {
  addEventListener: function (name, fn) { (__listeners[name] = __listeners[name] || []).push(fn); },
  callUser: function (p) { return new __Call(p.username); },
  sendMediaBetween: __noop, terminate: __noop,
};
function __dispatch(event) {
  if (event.name === AppEvents.CallAlerting) {
    event.call = new __Call(event.id);
  }
  var list = __listeners[event.name] || [];
  for (var i = 0; i < list.length; i++) {
    list[i](event);
  }
}
`
