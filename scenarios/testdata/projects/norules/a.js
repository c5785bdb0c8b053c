Logger.write("a");
