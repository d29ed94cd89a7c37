using System.Diagnostics;
using System.Globalization;
using System.Text;
using TraceReplay.Host.Ebtables;

namespace TraceReplay.Tests.Host.Ebtables;

/// <summary>
/// A host with a large bridge firewall (a generated 20,000-rule file, one user chain per 100 rules)
/// parses, checks and prints back unchanged, and fast enough not to matter at snapshot load. The
/// timing is reported, not asserted beyond a generous bound (the machine is shared).
/// </summary>
public sealed class ScaleTests(ITestOutputHelper output)
{
    [Fact]
    public void Twenty_thousand_rules_round_trip()
    {
        var sb = new StringBuilder("*filter\n:INPUT ACCEPT\n:FORWARD DROP\n:OUTPUT ACCEPT\n");
        const int Chains = 200, PerChain = 100;
        for (int c = 0; c < Chains; c++)
            sb.Append(CultureInfo.InvariantCulture, $":port{c} RETURN\n");
        for (int c = 0; c < Chains; c++)
            sb.Append(CultureInfo.InvariantCulture, $"[{c}:{c * 64}] -A FORWARD -i veth{c} -j port{c}\n");
        for (int c = 0; c < Chains; c++)
        {
            for (int i = 0; i < PerChain; i++)
            {
                sb.Append((i % 4) switch
                {
                    0 => $"[{i}:{i * 100}] -A port{c} -p IPv4 -s 02:00:00:00:{c % 256:x2}:{i:x2} --ip-src 10.{c % 256}.{i}.0/24 --ip-proto tcp --ip-dport {1000 + i} -j ACCEPT\n",
                    1 => $"[{i}:{i * 100}] -A port{c} -p ARP --arp-op Request --arp-ip-dst 10.{c % 256}.{i}.1 -j ACCEPT\n",
                    2 => $"[{i}:{i * 100}] -A port{c} -p IPv6 --ip6-src 2001:db8:{c:x}:{i:x}::/64 -j DROP\n",
                    _ => $"[{i}:{i * 100}] -A port{c} --among-src 2:0:0:0:{c % 256:x}:{i:x}=10.0.0.{i} --log-level info --log-prefix \"p{c}\" -j CONTINUE\n",
                });
            }
        }
        var text = sb.ToString();
        int rules = Chains * PerChain + Chains;

        var sw = Stopwatch.StartNew();
        var rs = EbtablesParser.Parse(text, "big.rules", strict: true);
        var parse = sw.Elapsed;
        sw.Restart();
        var problems = EbtablesChecker.Check(rs);
        var check = sw.Elapsed;
        sw.Restart();
        var printed = EbtablesPrinter.Print(rs);
        var print = sw.Elapsed;

        Assert.Empty(problems);
        Assert.Equal(text, printed);
        output.WriteLine(FormattableString.Invariant(
            $"{rules} rules, {text.Length / 1024} KiB: parse {parse.TotalMilliseconds:F0} ms ({rules / parse.TotalSeconds:F0} rules/s), check {check.TotalMilliseconds:F0} ms, print {print.TotalMilliseconds:F0} ms"));
        Assert.True(parse < TimeSpan.FromSeconds(20), $"parse took {parse}");
    }
}
