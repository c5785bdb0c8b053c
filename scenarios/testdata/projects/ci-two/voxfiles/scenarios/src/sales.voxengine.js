Logger.write("sales");
