// Package jsapi owns what a scenario sees: the engine protocol (commands out,
// onPhoneEvent in), the VoxEngine layer written in JavaScript on top of it and
// embedded in the binary, the timers and logger bindings, and the guards that keep
// allocating builtins inside a session's memory budget. The session that runs the
// VM lives in package runtime; jsapi only binds to the small Host it declares.
package jsapi
