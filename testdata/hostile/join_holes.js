// Joins a billion holes: a gigabyte of commas from one call.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const a = [];
  a.length = 1e9;
  Logger.write(a.join().length);
});
