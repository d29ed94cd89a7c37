using System.Diagnostics;
using System.Globalization;
using TraceReplay.Host.Iptables;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `host`: parse and check the corpus's 12k-rule university firewall (iptables and ip6tables dumps of
/// the TUM chair for Network Architectures and Services) the way `tracereplay rules check` does, and
/// report the time and allocation per run after warm-up.
/// </summary>
public static class HostParseRun
{
    public static int Run(string[] args)
    {
        int runs = 20;
        string dir = Path.Combine(FindRepoRoot(), "..", "shared", "datasets", "external", "iptables-save", "net-network", "configs_chair_for_Network_Architectures_and_Services");
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--runs" && i + 1 < args.Length)
                runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--dir" && i + 1 < args.Length)
                dir = args[++i];
        }
        string v4 = Path.Combine(dir, "iptables-save-2016-06-27_16-29-01");
        string v6 = Path.Combine(dir, "ip6tables-save-2016-06-27_16-29-01");
        if (!File.Exists(v4) || !File.Exists(v6))
        {
            Console.Error.WriteLine($"host: the university firewall dumps are not at {dir} (clone ../shared beside the repository)");
            return 1;
        }
        string t4 = File.ReadAllText(v4), t6 = File.ReadAllText(v6);
        int rules = 0;
        int Once()
        {
            var a = IptablesParser.Parse(t4, v4, IptFamily.IPv4);
            var b = IptablesParser.Parse(t6, v6, IptFamily.IPv6);
            int problems = RulesetChecker.Check(a).Count + RulesetChecker.Check(b).Count;
            rules = a.AllRules.Count() + b.AllRules.Count();
            return problems;
        }
        var cold = Stopwatch.StartNew();
        int found = Once();
        cold.Stop();
        for (int i = 0; i < 3; i++)
            Once();
        var times = new List<double>();
        long allocated = 0;
        for (int i = 0; i < runs; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            Once();
            sw.Stop();
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        double median = times[times.Count / 2];
        Console.WriteLine($"parse + check, iptables and ip6tables dumps of the 12k-rule university firewall: {rules:N0} rules, {found} load-time problems");
        Console.WriteLine($"  first run (cold, includes JIT):  {cold.Elapsed.TotalMilliseconds:F1} ms");
        Console.WriteLine($"  median of {runs} warm runs:        {median:F1} ms ({rules / median * 1000:N0} rules/s), min {times[0]:F1} ms, max {times[^1]:F1} ms");
        Console.WriteLine($"  allocated per run:               {allocated / runs / 1024.0 / 1024.0:F1} MiB ({allocated / runs / Math.Max(rules, 1):N0} bytes/rule)");
        return 0;
    }

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "TraceReplay.sln")))
                return d.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}
