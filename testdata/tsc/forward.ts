// Forwarding in TypeScript: a SIP trunk first, the PSTN as a fallback, with
// the older positional forms a migrated scenario still uses.

VoxEngine.addEventListener(AppEvents.Started, (e) => {
  Logger.write(`session ${e.sessionId}, custom data "${VoxEngine.customData()}"`);
});

VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  const incoming: Call = e.call;
  const viaSIP = VoxEngine.callSIP("sip:desk@pbx.example.com", {
    callerid: e.callerid,
    displayName: e.displayName,
    headers: { "X-Original-To": e.destination },
    authUser: "vox",
    password: "secret",
  });
  viaSIP.addEventListener(CallEvents.Connected, () => {
    incoming.answer();
    VoxEngine.sendMediaBetween(incoming, viaSIP);
  });
  viaSIP.addEventListener(CallEvents.Failed, (f) => {
    Logger.write(`SIP failed ${f.code} ${f.reason}`);
    const viaPSTN = VoxEngine.callPSTN("74954451120", e.destination, { headers: { "X-Trunk": "main" } });
    viaPSTN.addEventListener(CallEvents.Failed, (g) => incoming.reject(g.code));
    viaPSTN.addEventListener(CallEvents.Connected, () => {
      incoming.answer();
      VoxEngine.sendMediaBetween(incoming, viaPSTN);
    });
  });
  incoming.addEventListener(CallEvents.Disconnected, () => VoxEngine.terminate());

  // The desk phone's transfer key: ring where it says, then tell it how it went.
  viaSIP.handleBlindTransfer(true);
  viaSIP.addEventListener(CallEvents.BlindTransferRequested, (t) => {
    const target = VoxEngine.callSIP(t.headers["Refer-To"], { callerid: e.callerid });
    target.addEventListener(CallEvents.Connected, () => {
      t.call.notifyBlindTransferSuccess();
      VoxEngine.sendMediaBetween(incoming, target);
    });
    target.addEventListener(CallEvents.Failed, (f) => t.call.notifyBlindTransferFailed(f.code, f.reason));
    Logger.write(`transfer to ${t.transferTo}`);
  });
  viaSIP.addEventListener(CallEvents.InfoReceived, (i) => incoming.sendInfo(i.mimeType, i.body, i.headers));
  // A supervisor listens in on the caller, unheard.
  const supervisor = VoxEngine.callUser({ username: "supervisor", callerid: e.callerid });
  supervisor.addEventListener(CallEvents.Connected, () => incoming.sendMediaTo(supervisor));
  incoming.addEventListener(CallEvents.Disconnected, () => incoming.stopMediaTo(supervisor));
  viaSIP.addEventListener(CallEvents.OnHold, () => incoming.playProgressTone("RU"));
  viaSIP.addEventListener(CallEvents.OffHold, () => incoming.stopPlayback());

  // Older positional forms still type-check (and are marked deprecated).
  const legacy = VoxEngine.callSIP("sip:old@pbx.example.com", e.callerid, "Old", "pw", "user");
  legacy.startPlayback("https://media.example.com/hold.mp3", true);
  legacy.say("hello", "en_US_Female");
  legacy.hangup();

  try {
    require(Modules.ApplicationStorage);
  } catch (err) {
    Logger.write(err);
  }
});

Net.httpRequest("https://crm.example.com/ping", (r) => {
  for (const h of r.headers) {
    Logger.write(`${h.key}: ${h.value}`);
  }
});

// The portal commands the call through its access URL (S20): the listener's
// value (here a promise of an object) is the HTTP response, as JSON.
VoxEngine.addEventListener(AppEvents.HttpRequest, async (e) => {
  const cmd = JSON.parse(e.content) as { COMMAND: string; USER_ID?: number };
  if (cmd.COMMAND === "user") {
    return { ok: true, user: cmd.USER_ID };
  }
  return "unknown command";
});

// The one-line forward of Voximplant's examples, with a callback once both
// calls are up.
VoxEngine.forwardCallToUser((caller, callee) => Logger.write(`${caller.callerid()} talks to ${callee.number()}`));
VoxEngine.forwardCallToPSTN((dialled) => "7" + dialled.slice(1), undefined, { callerid: "74950000100" });
