// A scenario with a typo.
VoxEngine.addEventListener(AppEvents.CallAlerting, function (e) {
	e.call.answer(;
});
