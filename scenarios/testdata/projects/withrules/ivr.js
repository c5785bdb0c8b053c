const menu = { "1": "sales", "2": "support" };
