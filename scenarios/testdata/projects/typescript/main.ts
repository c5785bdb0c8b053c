VoxEngine.addEventListener(AppEvents.CallAlerting, (e: AppEvents.CallAlerting) => e.call.answer());
