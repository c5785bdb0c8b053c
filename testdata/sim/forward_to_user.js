// Voximplant's one-line forward: the dialled number names the user to ring,
// and easyProcess does the rest (ring the caller, answer it, bridge, hang up
// the one left when the other ends).
"use strict";

VoxEngine.forwardCallToUser((caller, callee) => Logger.write(`${caller.callerid()} talks to ${callee.id()}`));
