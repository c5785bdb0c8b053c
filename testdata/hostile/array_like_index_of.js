// Array.prototype.indexOf walks any array-like's length in Go; 2^53 iterations
// would take days where no interrupt can reach.
VoxEngine.addEventListener(AppEvents.CallAlerting, (e) => {
  e.call.answer();
  const i = Array.prototype.indexOf.call({ length: 2 ** 53 - 1 }, "never");
  Logger.write(`${i}`);
});
