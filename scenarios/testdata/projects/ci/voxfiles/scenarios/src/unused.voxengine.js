Logger.write("another application uses this one");
