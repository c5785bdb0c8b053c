const greeting = "hello";
