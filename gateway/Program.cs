Console.WriteLine("ChatWire gateway: under construction");
