namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>What --connbytes counts (enum xt_connbytes_what).</summary>
public enum ConnbytesMode : byte
{
    Packets,
    Bytes,
    AveragePacket,
}

/// <summary>Which direction's counters (enum xt_connbytes_direction).</summary>
public enum ConnbytesDirection : byte
{
    Original,
    Reply,
    Both,
}

/// <summary>
/// `-m connbytes` (extensions/libxt_connbytes.c; kernel xt_connbytes.c): the connection's packet,
/// byte or average packet size counter within [from, to]; `!` is kept as from &gt; to, as the kernel
/// takes it (matches when the counter is outside).
/// </summary>
[XtMatch("connbytes")]
public sealed class ConnbytesMatch : XtMatch
{
    private const int OBytes = 0, OMode = 1, ODir = 2;
    private XtOptionSet _seen;

    /// <summary>count.from / count.to as the kernel holds them: swapped for `!`.</summary>
    public ulong From { get; private set; }
    public ulong To { get; private set; } = ulong.MaxValue;
    public ConnbytesMode Mode { get; private set; }
    public ConnbytesDirection Direction { get; private set; }

    private static readonly Dictionary<string, ConnbytesMode> Modes = new() { ["packets"] = ConnbytesMode.Packets, ["bytes"] = ConnbytesMode.Bytes, ["avgpkt"] = ConnbytesMode.AveragePacket };
    private static readonly Dictionary<string, ConnbytesDirection> Dirs = new() { ["original"] = ConnbytesDirection.Original, ["reply"] = ConnbytesDirection.Reply, ["both"] = ConnbytesDirection.Both };

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--connbytes":
            {
                _seen.Take(o, 1u << OBytes);
                string text = o.Arg("FROM[:TO]");
                int sep = text.IndexOf(':', StringComparison.Ordinal);
                ulong from = sep == 0 ? 0 : o.UInt64(sep < 0 ? text : text[..sep]);
                ulong to = sep < 0 || sep == text.Length - 1 ? ulong.MaxValue : o.UInt64(text[(sep + 1)..]);
                if (to < from)
                    throw o.Fail("range is reversed", text, "FROM:TO with FROM <= TO");
                (From, To) = o.Invert ? (to, from) : (from, to);
                return true;
            }
            case "--connbytes-mode":
                _seen.TakeNoInvert(o, 1u << OMode);
                Mode = o.Choice(o.Arg("packets, bytes or avgpkt"), Modes, caseSensitive: true);
                return true;
            case "--connbytes-dir":
                _seen.TakeNoInvert(o, 1u << ODir);
                Direction = o.Choice(o.Arg("original, reply or both"), Dirs, caseSensitive: true);
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.Bits != 7)
            throw check.Fail("--connbytes, --connbytes-mode and --connbytes-dir are all required", "--connbytes FROM[:TO] --connbytes-mode MODE --connbytes-dir DIR");
    }

    /// <summary>connbytes_save / print_from_to: `!` when from &gt; to; `:to` only when it is neither 0 nor the maximum.</summary>
    public override void Save(SaveWriter w)
    {
        bool invert = From > To;
        ulong from = invert ? To : From, to = invert ? From : To;
        string range = XtValues.Dec(from) + (to != 0 && to < ulong.MaxValue ? ":" + XtValues.Dec(to) : string.Empty);
        w.Opt("--connbytes", range, invert);
        w.Opt("--connbytes-mode", Mode switch { ConnbytesMode.Packets => "packets", ConnbytesMode.Bytes => "bytes", _ => "avgpkt" });
        w.Opt("--connbytes-dir", Direction switch { ConnbytesDirection.Original => "original", ConnbytesDirection.Reply => "reply", _ => "both" });
    }
}
