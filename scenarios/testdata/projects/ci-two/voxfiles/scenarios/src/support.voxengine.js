Logger.write("support");
