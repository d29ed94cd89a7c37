using System.CommandLine;
using TraceReplay.Cli;
using TraceReplay.Cli.Commands;

var root = new RootCommand("TraceReplay: replay packet captures through a simulation of a Linux host's netfilter, offline.");
root.Subcommands.Add(CapinfoCommand.Create());
return CommandLine.Run(root, args, Console.Out, Console.Error);
