// Object.keys of an 8-million-character string makes 8 million strings.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const s = "x".repeat(8e6);
  Logger.write(Object.keys(s).length);
});
