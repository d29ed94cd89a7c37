using System.Text;
using TraceReplay.Host.Network;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Tests.Host.Network;

/// <summary>
/// Malformed network files: each gets a HostParseException (or InvalidDataException for text that is not
/// JSON) naming file:line:column, the offending token and what was expected — never another exception.
/// </summary>
public sealed class BadInputTests
{
    private static HostParseException Fails(Action parse)
    {
        var e = Assert.Throws<HostParseException>(parse);
        Assert.StartsWith(e.Location.File, e.Message, StringComparison.Ordinal);
        return e;
    }

    private static void At(HostParseException e, int line, int column, string token, string expectedWords)
    {
        Assert.Equal((line, column), (e.Location.Line, e.Location.Column));
        Assert.Equal(token, e.Token);
        Assert.Contains(expectedWords, e.Expected, StringComparison.Ordinal);
    }

    [Theory]
    // line 2 column 1: the word, what was expected
    [InlineData("default via 10.0.0.1 dev eth0\n10.0.0.0/33 dev eth0\n", 2, 1, "10.0.0.0/33", "PREFIXLEN")]
    [InlineData("default via 10.0.0.1 dev eth0\n10.0.0.0/24 dev eth0 bogus 3\n", 2, 22, "bogus", "via, dev")]
    [InlineData("default via 10.0.0.300 dev eth0\n", 1, 13, "10.0.0.300", "gateway")]
    [InlineData("10.1.0.0/16 via 10.0.0.1 metric x\n", 1, 33, "x", "metric")]
    [InlineData("10.1.0.0/16 via 10.0.0.1 metric\n", 1, 32, "metric", "metric")] // just past the line's end
    [InlineData("10.1.0.0/16\n\tnexthop via 10.0.0.1 weight 0\n", 2, 30, "0", "1..256")]
    [InlineData("\tnexthop via 10.0.0.1\n", 1, 2, "nexthop", "route line")]
    public void Bad_route_text(string text, int line, int column, string token, string expected) =>
        At(Fails(() => RouteParser.ParseText(text, "ip-route.txt")), line, column, token, expected);

    [Theory]
    [InlineData("0:\tfrom all lookup local\n32766 from all lookup main\n", 2, 1, "32766", "PRIORITY:")]
    [InlineData("100:\tfrom 10.0.0.0/40 lookup 100\n", 1, 11, "10.0.0.0/40", "ADDRESS/PREFIXLEN")]
    [InlineData("100:\tfrom all fwmark 0xzz lookup 100\n", 1, 22, "0xzz", "MARK")]
    [InlineData("100:\tfrom all\n", 1, 14, "end of line", "lookup TABLE")]
    [InlineData("100:\tfrom all uidrange 5 lookup main\n", 1, 24, "5", "START-END")]
    [InlineData("100:\tfrom all frobnicate lookup main\n", 1, 15, "frobnicate", "from, to")]
    public void Bad_rule_text(string text, int line, int column, string token, string expected) =>
        At(Fails(() => RuleParser.ParseText(text, "ip-rule.txt")), line, column, token, expected);

    [Theory]
    [InlineData("1: lo: <LOOPBACK> mtu 65536\n    inet 127.0.0.1/8 scope host lo\n    inet 127.0.0.300/8 scope host lo\n", 3, 10, "127.0.0.300/8", "ADDRESS/PREFIXLEN")]
    [InlineData("x: lo: <LOOPBACK> mtu 65536\n", 1, 1, "x:", "N: NAME")]
    [InlineData("1: lo <LOOPBACK> mtu 65536\n", 1, 4, "lo", "NAME:")]
    [InlineData("1: lo: LOOPBACK mtu 65536\n", 1, 8, "LOOPBACK", "<FLAG")]
    [InlineData("    inet 127.0.0.1/8 scope host lo\n", 1, 5, "inet", "interface line")]
    [InlineData("2: eth0: <UP> mtu 1500\n    link/ether 00:11:22:33:44:zz brd ff:ff:ff:ff:ff:ff\n", 2, 16, "00:11:22:33:44:zz", "xx:xx")]
    [InlineData("2: eth0: <UP> mtu 1500\n    inet 10.0.0.1/24 scope galaxy eth0\n", 2, 28, "galaxy", "global")]
    [InlineData("2: eth0: <UP> mtu 1500\n    inet6 10.0.0.1/24 scope global\n", 2, 11, "10.0.0.1/24", "inet6 address")]
    [InlineData("2: eth0: <UP> mtu 1500\n    inet6 2001:db8::1/64 scope global wibble\n", 2, 39, "wibble", "brd, scope")]
    public void Bad_addr_text(string text, int line, int column, string token, string expected) =>
        At(Fails(() => DeviceParser.ParseText(text, "ip-addr.txt")), line, column, token, expected);

    [Fact]
    public void Invalid_json_names_file_and_line()
    {
        var e = Assert.Throws<InvalidDataException>(() => RouteParser.ParseJson("[{\"dst\":\"default\"},\n{\"dst\": }]", "route.json"));
        Assert.StartsWith("route.json:2:", e.Message, StringComparison.Ordinal);
        Assert.Contains("ip -j route", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => DeviceParser.ParseJson("", "addr.json"));
        Assert.Throws<InvalidDataException>(() => RuleParser.ParseJson("[{\"priority\":0,}]", "rule.json"));
    }

    [Theory]
    // The wrong shape: the element's line:column, the field, what was expected.
    [InlineData("{\"dst\":\"default\"}", 1, 1, "object", "a JSON array")]
    [InlineData("[{\"dst\":\"default\"},\n 7]", 2, 2, "number", "a JSON object")]
    [InlineData("[{\"dst\":\"default\"},\n {\"dst\":\"10.0.0.0/99\"}]", 2, 2, "10.0.0.0/99", "ADDRESS/PREFIXLEN")]
    [InlineData("[\n  {\"dst\":\"10.0.0.0/8\",\"metric\":\"high\"}]", 2, 3, "\"high\"", "integer")]
    [InlineData("[{\"dst\":\"10.0.0.0/8\",\"type\":\"teleport\"}]", 1, 2, "teleport", "unicast")]
    [InlineData("[{\"dst\":\"10.0.0.0/8\",\"nexthops\":[{\"gateway\":\"10.0.0.1\",\"weight\":999}]}]", 1, 2, "999", "1..256")]
    [InlineData("[{\"gateway\":\"10.0.0.1\"}]", 1, 2, "{", "\"dst\"")]
    [InlineData("[{\"dst\":\"default\",\"gateway\":\"2001:db8::1\",\"dev\":\"x\"},{\"dst\":\"10.0.0.0/8\",\"gateway\":[1]}]", 1, 54, "[1]", "a string")]
    public void Bad_route_json(string json, int line, int column, string token, string expected)
    {
        var e = Fails(() => RouteParser.ParseJson(json, "route.json"));
        At(e, line, column, token, expected);
    }

    [Fact]
    public void Bad_addr_and_rule_json()
    {
        var e = Fails(() => DeviceParser.ParseJson("[{\"ifindex\":1,\"ifname\":\"lo\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"1.2.3\",\"prefixlen\":8}]}]", "addr.json"));
        Assert.Contains("addr_info[0].local", e.Message, StringComparison.Ordinal);
        At(e, 1, 2, "1.2.3", "address");
        e = Fails(() => DeviceParser.ParseJson("[{\"ifindex\":1,\"ifname\":\"lo\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"1.2.3.4\",\"prefixlen\":33}]}]", "addr.json"));
        At(e, 1, 2, "33", "0..32");
        e = Fails(() => DeviceParser.ParseJson("[{\"ifname\":\"lo\"}]", "link.json"));
        Assert.Contains("ifindex", e.Message, StringComparison.Ordinal);
        e = Fails(() => DeviceParser.ParseJson("[{\"ifindex\":2,\"ifname\":\"eth0\",\"link_type\":\"ether\",\"address\":\"00:11:22:33:44:gg\"}]", "link.json"));
        At(e, 1, 2, "00:11:22:33:44:gg", "xx:xx");
        e = Fails(() => RuleParser.ParseJson("[{\"priority\":1,\"src\":\"all\",\"fwmark\":\"0xqq\",\"table\":\"main\"}]", "rule.json"));
        At(e, 1, 2, "0xqq", "32-bit");
        e = Fails(() => RuleParser.ParseJson("[{\"priority\":1,\"src\":\"all\"}]", "rule.json"));
        Assert.Contains("no table", e.Message, StringComparison.Ordinal);
        e = Fails(() => RuleParser.ParseJson("[{\"priority\":1,\"src\":\"10.0.0.0\",\"srclen\":64,\"table\":\"main\"}]", "rule.json"));
        At(e, 1, 2, "64", "0..32");
    }

    [Theory]
    [InlineData("net.ipv4.ip_forward = 1\nnet.ipv4.tcp_syncookies 1\n", 2, 1, "net.ipv4.tcp_syncookies 1", "NAME = VALUE")]
    [InlineData("net.ipv4.ip_forward = 1\n  = 1\n", 2, 3, "=", "dotted name")]
    [InlineData("net.ipv4 conf = 1\n", 1, 1, "net.ipv4 conf", "dotted name")]
    public void Bad_sysctl_lines(string text, int line, int column, string token, string expected) =>
        At(Fails(() => Sysctls.Parse(text, "sysctl.conf")), line, column, token, expected);

    [Fact]
    public void Missing_snapshot_files_are_empty_not_errors()
    {
        string dir = Directory.CreateTempSubdirectory("netcfg-empty").FullName;
        try
        {
            var c = NetworkConfig.Load(dir);
            Assert.Empty(c.Devices);
            Assert.Empty(c.Routes);
            Assert.Null(c.Fib.Lookup("main", TraceReplay.Capture.Decode.IpAddr.Parse("10.0.0.1")));
            Assert.False(c.Sysctls.IpForward);
            Assert.Equal(120, c.Sysctls.ConntrackTimeout("udp_timeout_stream"));
            File.WriteAllText(Path.Combine(dir, "rule.json"), "[{\"priority\":0,\"src\":\"all\",\"table\":\"local\"},\n{\"priority\":\"x\"}]");
            var e = Assert.Throws<HostParseException>(() => NetworkConfig.Load(dir));
            Assert.Equal((Path.Combine(dir, "rule.json"), 2, 1), (e.Location.File, e.Location.Line, e.Location.Column));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Mutation fuzzing over the docker-host JSON, the sysctl file and the corpus text dumps: characters
    /// deleted, inserted, duplicated, lines swapped or cut, numbers replaced by edge values. The only
    /// acceptable failures are HostParseException / InvalidDataException naming the file.
    /// </summary>
    [Fact]
    public void Mutated_inputs_fail_only_with_located_parse_errors()
    {
        var seeds = new List<(string Name, string Text, Func<string, string, object> Parse)>();
        foreach (var f in new[] { "addr.json", "link.json" })
            seeds.Add((f, File.ReadAllText(Path.Combine(NetworkTestData.DockerSnapshot, f)), (t, n) => DeviceParser.ParseJson(t, n)));
        seeds.Add(("route.json", File.ReadAllText(Path.Combine(NetworkTestData.DockerSnapshot, "route.json")), (t, n) => RouteParser.ParseJson(t, n)));
        seeds.Add(("rule.json", File.ReadAllText(Path.Combine(NetworkTestData.DockerSnapshot, "rule.json")), (t, n) => RuleParser.ParseJson(t, n)));
        seeds.Add(("sysctl.conf", string.Join('\n', File.ReadLines(Path.Combine(NetworkTestData.DockerSnapshot, "sysctl.conf")).Take(60)), (t, n) => Sysctls.Parse(t, n)));
        foreach (var (rel, kind, v6) in NetworkTestData.TextFiles())
        {
            string text = File.ReadAllText(Path.Combine(NetworkTestData.NetNetwork, rel));
            seeds.Add((Path.GetFileName(rel), text, kind switch
            {
                NetworkTestData.Kind.Addr => (t, n) => DeviceParser.ParseText(t, n),
                NetworkTestData.Kind.Route => (t, n) => RouteParser.ParseText(t, n, v6),
                _ => (t, n) => RuleParser.ParseText(t, n, v6),
            }));
        }
        const int cases = 4000;
        int rejected = 0;
        var failures = new List<string>();
        for (int c = 0; c < cases; c++)
        {
            var rng = new Random(c);
            var (name, text, parse) = seeds[rng.Next(seeds.Count)];
            string mutant = Mutate(text, rng);
            try
            {
                parse(mutant, name);
            }
            catch (HostParseException e) when (e.Message.StartsWith(name + ":", StringComparison.Ordinal) && e.Location.Line > 0)
            {
                rejected++;
            }
            catch (InvalidDataException e) when (e.Message.StartsWith(name + ":", StringComparison.Ordinal))
            {
                rejected++;
            }
            catch (Exception e)
            {
                failures.Add($"case {c} ({name}): {e.GetType().Name}: {e.Message}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(10)));
        Assert.InRange(rejected, cases / 10, cases); // the mutations do reach the error paths
    }

    private static readonly string[] Edge = ["0", "-1", "256", "4294967296", "99999999999999999999", "0x", "1.5", "::", "/", "\"\"", "null", "[]", "{}", "all", "default", "255.255.255.255/32"];
    private const string Alphabet = "{}[]\":,./: \n\t0123456789abcdefx-@<>";

    private static string Mutate(string text, Random rng)
    {
        var sb = new StringBuilder(text);
        int n = 1 + rng.Next(4);
        for (int i = 0; i < n && sb.Length > 0; i++)
        {
            int at = rng.Next(sb.Length);
            switch (rng.Next(6))
            {
                case 0:
                    sb.Remove(at, Math.Min(1 + rng.Next(8), sb.Length - at));
                    break;
                case 1:
                    sb.Insert(at, Alphabet[rng.Next(Alphabet.Length)]);
                    break;
                case 2:
                    int len = Math.Min(1 + rng.Next(40), sb.Length - at);
                    sb.Insert(at, sb.ToString(at, len));
                    break;
                case 3:
                    sb.Length = at; // truncated
                    break;
                case 4:
                    // Replace the run of word characters at `at` with an edge value.
                    int end = at;
                    while (end < sb.Length && (char.IsLetterOrDigit(sb[end]) || sb[end] is '.' or ':'))
                        end++;
                    sb.Remove(at, end - at).Insert(at, Edge[rng.Next(Edge.Length)]);
                    break;
                default:
                    sb[at] = Alphabet[rng.Next(Alphabet.Length)];
                    break;
            }
        }
        return sb.ToString();
    }
}
