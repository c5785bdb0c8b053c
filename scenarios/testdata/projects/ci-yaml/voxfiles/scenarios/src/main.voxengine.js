Logger.write("main");
