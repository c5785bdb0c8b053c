// One gigabyte in a single typed-array allocation.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const bytes = new Uint8Array(1 << 30);
  Logger.write(`${bytes.length} bytes`);
});
