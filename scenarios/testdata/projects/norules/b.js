Logger.write("b");
