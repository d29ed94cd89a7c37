using System.Globalization;
using TraceReplay.Host.Net;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Network;

/// <summary>Reads `ip -j rule` and the text of `ip rule` / `ip -6 rule` — iproute2's ip/iprule.c print_rule read backwards.</summary>
public static class RuleParser
{
    public static List<FibRule> ParseJson(string text, string file, bool v6 = false)
    {
        var input = JsonInput.Parse(text, file, "ip -j rule");
        var list = new List<FibRule>(input.Elements.Count);
        for (int i = 0; i < input.Elements.Count; i++)
            list.Add(FromJson(new JsonFields(input.Elements[i], input.Locations[i], ""), v6));
        return list;
    }

    private static FibRule FromJson(JsonFields f, bool v6)
    {
        var src = Selector(f, "src", "srclen");
        var dst = Selector(f, "dst", "dstlen");
        bool isV6 = src?.IsV6 ?? dst?.IsV6 ?? v6;
        var action = FibRuleAction.ToTable;
        string? table = f.String("table");
        uint? gotoTarget = (uint?)f.Number("goto");
        if (gotoTarget is not null)
            action = FibRuleAction.Goto;
        if (f.String("action") is { } a)
        {
            action = TryAction(a, out var act) ? act : throw f.Error("action", "not a rule action", a, "blackhole, unreachable, prohibit, nop or goto");
        }
        // iprule.c prints FR_ACT_NOP as a bare `"nop":null`, not as an action string.
        if (f.Flag("nop"))
            action = FibRuleAction.Nop;
        // An l3mdev rule has no table: the VRF device's table is chosen per packet.
        if (action == FibRuleAction.ToTable && table is null && !f.Flag("l3mdev"))
            throw new HostParseException(f.Location, "rule has no table, goto or action", "{", "\"table\", \"goto\" or \"action\"");
        byte? tos = null;
        if ((f.String("tos") ?? f.String("dsfield")) is { } tosText)
            tos = TextNumbers.TryParseUInt(tosText, out uint tv) && tv <= 255 ? (byte)tv : throw f.Error("tos", "not a TOS value", tosText, "0x00..0xff");
        uint? mark = Hex(f, "fwmark"), mask = Hex(f, "fwmask");
        return new FibRule
        {
            Priority = (uint)f.RequiredNumber("priority"),
            IsV6 = isV6,
            Not = f.Flag("not"),
            Src = src,
            Dst = dst,
            Tos = tos is 0 ? null : tos,
            FwMark = mark,
            FwMask = mark is null ? null : mask ?? uint.MaxValue,
            Iif = f.String("iif"),
            Oif = f.String("oif"),
            L3mdev = f.Flag("l3mdev"),
            UidStart = (uint?)f.Number("uid_start"),
            UidEnd = (uint?)f.Number("uid_end"),
            IpProto = f.String("ipproto"),
            Action = action,
            Table = table is null ? null : RtTables.Canonical(table),
            GotoTarget = gotoTarget,
            SuppressPrefixLength = (int)(f.Number("suppress_prefixlen", -1, 128) ?? -1),
            SuppressIfGroup = (int?)f.Number("suppress_ifgroup", int.MinValue, int.MaxValue),
        };
    }

    private static uint? Hex(JsonFields f, string name)
    {
        if (f.String(name) is not { } s)
            return (uint?)f.Number(name);
        return TextNumbers.TryParseUInt(s, out uint v) ? v : throw f.Error(name, "not a number", s, "0x-hex or decimal 32-bit value");
    }

    private static IpNetwork? Selector(JsonFields f, string name, string lenName)
    {
        string? s = f.String(name);
        if (s is null or "all")
            return null;
        if (!NetParse.TryAddress(s, out var a))
            throw f.Error(name, "not an IP address", s, "an address or \"all\"");
        bool v6 = !a.IsV4;
        int len = (int)(f.Number(lenName, 0, v6 ? 128 : 32) ?? (v6 ? 128 : 32));
        return NetParse.Prefix(a, len, v6);
    }

    private static bool TryAction(string s, out FibRuleAction action)
    {
        action = s switch
        {
            "blackhole" => FibRuleAction.Blackhole,
            "unreachable" => FibRuleAction.Unreachable,
            "prohibit" => FibRuleAction.Prohibit,
            "nop" => FibRuleAction.Nop,
            "goto" => FibRuleAction.Goto,
            "lookup" or "table" => FibRuleAction.ToTable,
            _ => FibRuleAction.Unspec,
        };
        return action != FibRuleAction.Unspec;
    }

    /// <summary>Parses the text of `ip rule` / `ip -6 rule`.</summary>
    public static List<FibRule> ParseText(string text, string file, bool v6 = false, List<ParseWarning>? warnings = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rules = new List<FibRule>();
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            var line = new TextLine(file, n + 1, lines[n].TrimEnd('\r'));
            if (line.Count == 0 || line[0].Text.StartsWith('#'))
                continue;
            rules.Add(TextRule(line, v6, warnings));
        }
        return rules;
    }

    private static FibRule TextRule(TextLine line, bool v6, List<ParseWarning>? warnings)
    {
        // 101:	not from 10.0.0.0/8 to 192.0.2.0/24 tos 0x10 fwmark 0x10/0xff iif d0 oif d1 uidrange 1-2 lookup 100 suppress_prefixlength 0
        var p = line.Take("PRIORITY:");
        if (!p.Text.EndsWith(':') || !uint.TryParse(p.Text.AsSpan(0, p.Text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint prio))
            throw line.Error(p, "not a rule priority", "PRIORITY: (a number and a colon)");
        var rule = new FibRule { Priority = prio, IsV6 = v6, Action = FibRuleAction.Unspec };
        while (!line.AtEnd)
        {
            var k = line.Take("a keyword");
            switch (k.Text)
            {
                case "not":
                    rule = rule with { Not = true };
                    break;
                case "from" or "to":
                    var a = line.Value(k, "an address, prefix or all");
                    if (a.Text != "all")
                    {
                        var net = line.Prefix(a, "ADDRESS/PREFIXLEN or all");
                        rule = k.Text == "from" ? rule with { Src = net, IsV6 = net.IsV6 } : rule with { Dst = net, IsV6 = net.IsV6 };
                    }
                    break;
                case "tos" or "dsfield":
                    var tw = line.Value(k, "the TOS");
                    rule = rule with
                    {
                        Tos = TextNumbers.TryParseUInt(tw.Text, out uint tv) && tv <= 255 ? (byte)tv
                            : uint.TryParse(tw.Text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out tv) && tv <= 255 ? (byte)tv
                            : throw line.Error(tw, "not a TOS value", "0x00..0xff"),
                    };
                    break;
                case "fwmark":
                    var mw = line.Value(k, "MARK or MARK/MASK");
                    string[] parts = mw.Text.Split('/');
                    if (parts.Length > 2 || !TextNumbers.TryParseUInt(parts[0], out uint mark))
                        throw line.Error(mw, "not a firewall mark", "MARK or MARK/MASK (hex or decimal)");
                    uint mask = uint.MaxValue;
                    if (parts.Length == 2 && !TextNumbers.TryParseUInt(parts[1], out mask))
                        throw line.Error(mw, "not a firewall mark mask", "MARK/MASK (hex or decimal)");
                    rule = rule with { FwMark = mark, FwMask = mask };
                    break;
                case "iif" or "oif":
                    string dev = line.Value(k, "the device").Text;
                    if (line.Peek() is { Text: "[detached]" })
                        line.Take("[detached]");
                    rule = k.Text == "iif" ? rule with { Iif = dev } : rule with { Oif = dev };
                    break;
                case "l3mdev":
                    rule = rule with { L3mdev = true };
                    break;
                case "uidrange":
                    var uw = line.Value(k, "START-END");
                    int dash = uw.Text.IndexOf('-', StringComparison.Ordinal);
                    if (dash < 0 || !uint.TryParse(uw.Text.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out uint u0)
                        || !uint.TryParse(uw.Text.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint u1))
                        throw line.Error(uw, "not a uid range", "START-END");
                    rule = rule with { UidStart = u0, UidEnd = u1 };
                    break;
                case "ipproto":
                    rule = rule with { IpProto = line.Value(k, "the protocol").Text };
                    break;
                case "sport" or "dport" or "tun_id" or "realms" or "map-to" or "protocol" or "flowlabel":
                    line.Value(k, "a value");
                    warnings?.Add(new ParseWarning(line.At(k), $"rule selector '{k.Text}' is not modelled and is ignored"));
                    break;
                case "lookup" or "table":
                    var t = line.Value(k, "the table");
                    rule = t.Text == "[l3mdev-table]"
                        ? rule with { L3mdev = true, Action = FibRuleAction.ToTable }
                        : rule with { Table = RtTables.Canonical(t.Text), Action = FibRuleAction.ToTable };
                    break;
                case "goto":
                    var g = line.Value(k, "the target priority");
                    rule = rule with { Action = FibRuleAction.Goto, GotoTarget = line.UInt(g, "the target rule's priority") };
                    break;
                case "blackhole" or "unreachable" or "prohibit" or "nop":
                    TryAction(k.Text, out var act);
                    rule = rule with { Action = act };
                    break;
                case "unresolved":
                    break; // a goto whose target does not exist: still a goto
                case "suppress_prefixlength":
                    var sp = line.Value(k, "the prefix length");
                    rule = rule with { SuppressPrefixLength = line.Int(sp, "a prefix length 0..128") };
                    break;
                case "suppress_ifgroup":
                    var sg = line.Value(k, "the device group");
                    rule = rule with { SuppressIfGroup = line.Int(sg, "a device group number") };
                    break;
                default:
                    throw line.Error(k, "not a rule keyword",
                        "from, to, tos, fwmark, iif, oif, l3mdev, uidrange, ipproto, lookup, goto, blackhole, unreachable, prohibit, nop or suppress_prefixlength");
            }
        }
        if (rule.Action == FibRuleAction.Unspec)
            throw new HostParseException(line.Here, "rule has no action", "end of line", "lookup TABLE, goto PRIORITY, blackhole, unreachable, prohibit or nop");
        return rule;
    }
}
