namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m tcp` (extensions/libxt_tcp.c; kernel xt_tcpudp.c tcp_mt): source/destination port ranges,
/// `--tcp-flags MASK COMP`, `--syn`, `--tcp-option N`.
/// </summary>
[XtMatch("tcp")]
public sealed class TcpMatch : XtMatch
{
    public XtRange SourcePorts { get; private set; } = new(0, 65535);
    public bool InvertSourcePorts { get; private set; }
    public XtRange DestinationPorts { get; private set; } = new(0, 65535);
    public bool InvertDestinationPorts { get; private set; }

    /// <summary>TCP flag bits (FIN 0x01 … URG 0x20) to look at, and the value they must have.</summary>
    public byte FlagMask { get; private set; }
    public byte FlagCompare { get; private set; }
    public bool InvertFlags { get; private set; }

    /// <summary>A TCP option kind that must be present (0: not tested).</summary>
    public byte Option { get; private set; }
    public bool InvertOption { get; private set; }

    private static readonly (string Name, byte Flag)[] FlagNames =
        [("FIN", 0x01), ("SYN", 0x02), ("RST", 0x04), ("PSH", 0x08), ("ACK", 0x10), ("URG", 0x20), ("ALL", 0x3F), ("NONE", 0)];

    // libxt_tcp's flags: each option once; --syn and --tcp-flags share TCP_FLAGS ("Only one of `--syn' or `--tcp-flags' allowed").
    private const uint SrcPorts = 1, DstPorts = 2, Flags = 4, Opt = 8;
    private XtOptionSet _given;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--sport":
            case "--source-port":
                _given.Take(o, SrcPorts);
                SourcePorts = o.PortRange(o.Arg("PORT[:PORT]"));
                InvertSourcePorts = o.Invert;
                return true;
            case "--dport":
            case "--destination-port":
                _given.Take(o, DstPorts);
                DestinationPorts = o.PortRange(o.Arg("PORT[:PORT]"));
                InvertDestinationPorts = o.Invert;
                return true;
            case "--syn":
                _given.Take(o, Flags);
                FlagMask = 0x17; // FIN,SYN,RST,ACK
                FlagCompare = 0x02;
                InvertFlags = o.Invert;
                return true;
            case "--tcp-flags":
                _given.Take(o, Flags);
                FlagMask = ParseFlags(o, o.Arg("MASK COMP, e.g. SYN,ACK SYN"));
                FlagCompare = ParseFlags(o, o.Arg("COMP, e.g. SYN"));
                InvertFlags = o.Invert;
                return true;
            case "--tcp-option":
                _given.Take(o, Opt);
                Option = (byte)o.UInt32(o.Arg("a TCP option number 1-255"), 1, 255);
                InvertOption = o.Invert;
                return true;
            default:
                return false;
        }
    }

    private static byte ParseFlags(XtOption o, string text)
    {
        byte flags = 0;
        foreach (var part in text.Split(','))
        {
            int k = Array.FindIndex(FlagNames, f => string.Equals(f.Name, part, StringComparison.OrdinalIgnoreCase));
            if (k < 0)
                throw o.Fail("unknown TCP flag", part, "FIN, SYN, RST, PSH, ACK, URG, ALL or NONE, separated by commas");
            flags |= FlagNames[k].Flag;
        }
        return flags;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) => check.RequireProtocol(Protocols.Tcp);

    public override void Save(SaveWriter w)
    {
        w.OptRange("--sport", SourcePorts, InvertSourcePorts, ushort.MaxValue);
        w.OptRange("--dport", DestinationPorts, InvertDestinationPorts, ushort.MaxValue);
        if (Option != 0 || InvertOption)
            w.Opt("--tcp-option", Option, InvertOption);
        if (FlagMask != 0 || InvertFlags)
            w.Opt("--tcp-flags", InvertFlags).Raw(" ").Raw(FlagText(FlagMask)).Raw(" ").Raw(FlagText(FlagCompare));
    }

    /// <summary>print_tcpf: names in FIN…URG order joined by commas, NONE for none.</summary>
    public static string FlagText(byte flags)
    {
        if (flags == 0)
            return "NONE";
        var names = new List<string>();
        foreach (var (name, flag) in FlagNames.AsSpan(0, 6))
        {
            if ((flags & flag) != 0)
                names.Add(name);
        }
        return string.Join(',', names);
    }
}
