using System.Text;
using TraceReplay.Host.Ebtables;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Tests.Host.Ebtables;

/// <summary>
/// Mutation fuzzing with a fixed seed: valid rule lines are cut, spliced, have tokens dropped,
/// duplicated, swapped, negated or replaced, or characters flipped. Every mutant either parses or
/// fails with HostParseException (nothing else escapes), and whatever parses prints to a form that
/// parses again to the same print (the printer writes only what the parser reads).
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private static readonly string[] Seeds =
    [
        "-A INPUT -p IPv4 -i eth0 --ip-src 10.0.0.0/8 ! --ip-dst 192.168.1.1 --ip-tos 0x10 --ip-proto tcp --ip-dport 22 -j ACCEPT",
        "-A INPUT -p IPv4 --ip-proto icmp --ip-icmp-type 3:4/0:255 -j CONTINUE",
        "-A INPUT -p IPv4 --ip-proto igmp --ip-igmp-type membership-query",
        "-A INPUT -p IPv6 --ip6-src 2001:db8::/32 --ip6-tclass 0x05 --ip6-proto ipv6-icmp --ip6-icmp-type 1/1 -j user",
        "-A INPUT -p IPv6 --ip6-proto udp --ip6-sport 1:1023 ! --ip6-dport 53",
        "-A INPUT -p ARP --arp-op Request --arp-htype 1 --arp-ptype 0x800 --arp-ip-src 10.1.0.0/16 --arp-mac-dst 02:00:00:00:00:00/ff:ff:ff:00:00:00 ! --arp-gratuitous",
        "-A INPUT -p 802_1Q --vlan-id 42 --vlan-prio 3 --vlan-encap 0800 -j DROP",
        "-A INPUT -p Length --802_3-sap 0xaa --802_3-type 0x0800",
        "-A INPUT ! -p IPv4 -s ! Multicast -d 01:80:c2:00:00:00/ff:ff:ff:ff:ff:f0 -j DROP",
        "-A INPUT --among-src 2:0:0:0:0:1=10.0.0.1,2:0:0:0:0:2 ! --among-dst 2:0:0:0:0:3 -j ACCEPT",
        "-A INPUT --mark 0x10/0xff --pkttype-type ! multicast --limit 10/min --limit-burst 3",
        "-A INPUT --log-level info --log-prefix \"in drop\" --log-ip --log-arp --log-ip6 --nflog-prefix \"nf\" --nflog-group 3 --nflog-range 64 --nflog-threshold 2",
        "-A FORWARD -i eth0 -o eth1 --logical-in br0 --logical-out br1 -j mark --mark-set 0x5 --mark-target CONTINUE",
        "[1:2] -A user --stp-type config -j classify --set-class 1:2",
        "-A INPUT --stp-type ! tcn --stp-root-prio 1:2 --stp-root-addr 02:00:00:00:00:00/ff:ff:ff:00:00:00 --stp-root-cost 5: --frob x",
        "-A INPUT -p IPv6 --ip6-src ::ffff:10.0.0.1 --ip6-dst ::ffff:0.0.0.0/96",
        "-A INPUT -j ACCEPT -c 5 600",
        ":user RETURN",
        "*nat",
        "-A PREROUTING -p ARP -i eth1 -j arpreply --arpreply-mac 02:00:00:00:00:0a --arpreply-target ACCEPT",
        "-A PREROUTING -i eth2 -j redirect --redirect-target DROP",
        "-A POSTROUTING -o eth0 -j snat --to-src 02:00:00:00:00:0d --snat-arp --snat-target ACCEPT",
        "-A PREROUTING -j dnat --to-dst 2:0:0:0:0:9 --dnat-target CONTINUE",
        "COMMIT",
    ];

    private static readonly string[] Words =
    [
        "!", "-p", "-s", "-d", "-i", "-o", "-j", "-c", "--ip-src", "--ip-proto", "--ip-sport", "--ip-icmp-type",
        "--ip6-dst", "--arp-op", "--vlan-id", "--among-dst", "--mark", "--limit", "--log-prefix", "--nflog-group",
        "--to-src", "--mark-set", "ACCEPT", "RETURN", "IPv4", "ARP", "LENGTH", "0x", ":", "/", "=", ",", "\"",
        "255.255.255.255/33", "ff:ff:ff:ff:ff:ff", "65536", "-1", "0:", ":0", "4294967296", "user", "redirect",
        "snat", "*filter", "*broute", "[", "]", "[0:0]", "::/129", "1.2.3.4/0.255.0.255", "echo-reply",
    ];

    [Fact]
    public void Mutated_lines_parse_or_fail_with_HostParseException_only()
    {
        var rng = new Random(20261126);
        int parsed = 0, refused = 0;
        const int Mutants = 5000;
        for (int n = 0; n < Mutants; n++)
        {
            var line = Mutate(rng, Seeds[rng.Next(Seeds.Length)], rng.Next(1, 4));
            var text = $"*filter\n:user ACCEPT\n{line}\n";
            EbtablesRuleset rs;
            try
            {
                rs = EbtablesParser.Parse(text, "fuzz.rules", strict: rng.Next(4) == 0);
            }
            catch (HostParseException e)
            {
                refused++;
                Assert.Equal("fuzz.rules", e.Location.File);
                Assert.InRange(e.Location.Line, 1, 4);
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutant '{line}' threw {e.GetType().Name}: {e.Message}");
                return;
            }
            parsed++;
            _ = EbtablesChecker.Check(rs);
            var printed = EbtablesPrinter.Print(rs);
            string again;
            try
            {
                again = EbtablesPrinter.Print(EbtablesParser.Parse(printed, "printed"));
            }
            catch (HostParseException e)
            {
                Assert.Fail($"mutant '{line}' printed as\n{printed}which does not parse: {e.Message}");
                return;
            }
            Assert.True(printed == again, $"mutant '{line}' printed\n{printed}then\n{again}");
        }
        output.WriteLine($"{Mutants} mutants: {parsed} parsed and printed stably, {refused} refused with a location");
        Assert.True(parsed > 100 && refused > 100, $"fuzzer too one-sided: {parsed} parsed, {refused} refused");
    }

    private static string Mutate(Random rng, string line, int rounds)
    {
        for (int r = 0; r < rounds; r++)
        {
            var tokens = line.Split(' ').ToList();
            switch (rng.Next(8))
            {
                case 0 when tokens.Count > 1:
                    tokens.RemoveAt(rng.Next(tokens.Count));
                    break;
                case 1:
                    tokens.Insert(rng.Next(tokens.Count + 1), tokens[rng.Next(tokens.Count)]);
                    break;
                case 2 when tokens.Count > 1:
                {
                    int a = rng.Next(tokens.Count), b = rng.Next(tokens.Count);
                    (tokens[a], tokens[b]) = (tokens[b], tokens[a]);
                    break;
                }
                case 3:
                    tokens.Insert(rng.Next(tokens.Count + 1), Words[rng.Next(Words.Length)]);
                    break;
                case 4:
                    tokens[rng.Next(tokens.Count)] = Words[rng.Next(Words.Length)];
                    break;
                case 5:
                {
                    var sb = new StringBuilder(line);
                    if (sb.Length > 0)
                        sb[rng.Next(sb.Length)] = (char)rng.Next(32, 127);
                    return Mutate(rng, sb.ToString(), rounds - r - 1);
                }
                case 6:
                    return line[..rng.Next(line.Length + 1)];
                default:
                {
                    var other = Seeds[rng.Next(Seeds.Length)].Split(' ');
                    int cut = rng.Next(tokens.Count + 1);
                    tokens = [.. tokens.Take(cut), .. other.Skip(rng.Next(other.Length))];
                    break;
                }
            }
            line = string.Join(' ', tokens);
        }
        return line;
    }
}
