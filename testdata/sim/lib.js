// The first file of a two-file rule: a shared helper.
var greetingFor = (hour) => (hour < 12 ? "Good morning" : "Good afternoon");
