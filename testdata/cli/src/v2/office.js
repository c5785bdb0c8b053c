// Calls to the office line ring the secretary's phone.
VoxEngine.addEventListener(AppEvents.CallAlerting, function (e) {
	VoxEngine.callUser("phone67", e.callerid);
});
