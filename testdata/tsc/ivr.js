// A small IVR in plain JavaScript, as integrators write them (S12): settings
// from the CRM, a greeting, a menu by DTMF, forwarding to a user, a recording.

const settingsURL = "https://crm.example.com/vox/settings";

VoxEngine.addEventListener(AppEvents.CallAlerting, async (e) => {
  const call = e.call;
  Logger.write(`incoming ${e.callerid} -> ${e.destination} (${call.state()})`);

  call.startEarlyMedia();
  call.playProgressTone("RU");

  const res = await Net.httpRequestAsync(settingsURL, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    postData: JSON.stringify({ number: e.destination }),
    timeout: 5,
  });
  if (res.code !== 200) {
    Logger.write(`settings failed: ${res.code} ${res.error || ""}`);
    call.reject(480);
    return;
  }
  const settings = JSON.parse(res.text);
  VoxEngine.customData(`portal=${settings.portal}`);

  call.answer();
  call.addEventListener(CallEvents.Connected, () => {
    call.startPlayback(settings.welcome, { loop: false });
    call.handleTones(true);
    call.record({ stereo: true });
  });
  call.addEventListener(CallEvents.ToneReceived, (ev) => {
    if (ev.tone === "1") {
      call.stopPlayback();
      const op = VoxEngine.callUser("phone67", call.callerid(), call.displayName());
      op.addEventListener(CallEvents.Connected, () => VoxEngine.sendMediaBetween(call, op));
      op.addEventListener(CallEvents.Failed, (f) => call.say(`operator unavailable, code ${f.code}`));
    }
  });
  const noAnswer = setTimeout(() => call.hangup(), 60000);
  call.addEventListener(CallEvents.Disconnected, (ev) => {
    clearTimeout(noAnswer);
    Logger.write(`talked ${ev.duration}s, cost ${ev.cost}`);
    VoxEngine.terminate();
  });
});

/**
 * The engine-protocol hook: it sees every event after the VoxEngine listeners.
 * @param {PhoneEvent} event
 */
function onPhoneEvent(event) {
  if (event.name === "Application.HttpRequest") {
    Logger.write(`portal command ${event.content}`);
  }
}
