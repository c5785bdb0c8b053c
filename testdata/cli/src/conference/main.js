// Written for Voximplant: puts every caller into one conference room.
require(Modules.Conference);
VoxEngine.addEventListener(AppEvents.CallAlerting, function (e) {
	var room = VoxEngine.createConference();
	e.call.answer();
	VoxEngine.sendMediaBetween(e.call, room);
});
