using System.Diagnostics;

namespace TraceReplay.Tests.Support;

/// <summary>tcpdump as an independent witness of what a capture contains (installed by `make deps`).</summary>
public static class Tcpdump
{
    public sealed record Output(int ExitCode, IReadOnlyList<string> Lines, string Error);

    public static Output Run(params string[] arguments)
    {
        var psi = new ProcessStartInfo("tcpdump") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments)
            psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Skip("tcpdump is not installed (`make deps` installs it)");
            throw;
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return new Output(process.ExitCode, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), stderr.Result);
        }
    }
}
