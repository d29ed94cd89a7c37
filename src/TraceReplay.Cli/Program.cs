using TraceReplay.Cli;

return CommandLine.Run(CommandLine.CreateRoot(), args, Console.Out, Console.Error);
