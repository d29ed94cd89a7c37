using System.Globalization;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>Which fields of xt_hmark_info are set (XT_HMARK_FLAG(XT_HMARK_*) bits).</summary>
[Flags]
public enum HMarkFields : ushort
{
    None = 0,
    SourceMask = 1 << 0,
    DestinationMask = 1 << 1,
    Spi = 1 << 2,
    SpiMask = 1 << 3,
    SourcePort = 1 << 4,
    DestinationPort = 1 << 5,
    SourcePortMask = 1 << 6,
    DestinationPortMask = 1 << 7,
    ProtocolMask = 1 << 8,
    Random = 1 << 9,
    Modulus = 1 << 10,
    Offset = 1 << 11,
    Conntrack = 1 << 12,
}

/// <summary>
/// `-j HMARK` (extensions/libxt_HMARK.c; kernel xt_HMARK.c hmark_tg_v4/v6): sets the packet mark to
/// `jhash(masked addresses, ports, protocol; rnd) % mod + offset`, from the packet or from its
/// conntrack tuple (`--hmark-tuple ct`), and goes on.
/// </summary>
[XtTarget("HMARK")]
public sealed class HMarkTarget : XtTarget
{
    public HMarkFields Fields { get; private set; }

    /// <summary>Prefix lengths of the address masks (0-32 / 0-128).</summary>
    public byte SourcePrefix { get; private set; }
    public byte DestinationPrefix { get; private set; }
    public ushort SourcePortMask { get; private set; }
    public ushort DestinationPortMask { get; private set; }
    public uint SpiMask { get; private set; }
    public ushort SourcePortSet { get; private set; }
    public ushort DestinationPortSet { get; private set; }
    public uint SpiSet { get; private set; }
    public ushort ProtocolMask { get; private set; }
    public uint Random { get; private set; }
    public uint Modulus { get; private set; }
    public uint Offset { get; private set; }

    public override bool IsTerminating => false;

    /// <summary>HMARK_OPT_PKT_MASK: the options that say what to hash.</summary>
    private const HMarkFields PacketFields = HMarkFields.SourceMask | HMarkFields.DestinationMask | HMarkFields.SpiMask | HMarkFields.SourcePortMask
        | HMarkFields.DestinationPortMask | HMarkFields.ProtocolMask | HMarkFields.SourcePort | HMarkFields.DestinationPort | HMarkFields.Spi;

    private XtOptionSet _seen;

    protected internal override bool Parse(XtOption o)
    {
        HMarkFields field = o.Name switch
        {
            "--hmark-src-prefix" => HMarkFields.SourceMask,
            "--hmark-dst-prefix" => HMarkFields.DestinationMask,
            "--hmark-sport-mask" => HMarkFields.SourcePortMask,
            "--hmark-dport-mask" => HMarkFields.DestinationPortMask,
            "--hmark-spi-mask" => HMarkFields.SpiMask,
            "--hmark-sport" => HMarkFields.SourcePort,
            "--hmark-dport" => HMarkFields.DestinationPort,
            "--hmark-spi" => HMarkFields.Spi,
            "--hmark-proto-mask" => HMarkFields.ProtocolMask,
            "--hmark-rnd" => HMarkFields.Random,
            "--hmark-mod" => HMarkFields.Modulus,
            "--hmark-offset" => HMarkFields.Offset,
            _ => HMarkFields.None,
        };
        if (o.Name == "--hmark-tuple")
        {
            _seen.TakeNoInvert(o, 1u << 16);
            ParseTuple(o, o.Arg("a list such as src,dst,sport,dport,proto or ct"));
            return true;
        }
        if (field == HMarkFields.None)
            return false;
        _seen.TakeNoInvert(o, (uint)field);
        int prefixMax = o.Family == IptFamily.IPv6 ? 128 : 32;
        string arg = o.Arg("a value");
        switch (field)
        {
            case HMarkFields.SourceMask: SourcePrefix = (byte)o.UInt32(arg, 0, (uint)prefixMax); break;
            case HMarkFields.DestinationMask: DestinationPrefix = (byte)o.UInt32(arg, 0, (uint)prefixMax); break;
            case HMarkFields.SourcePortMask: SourcePortMask = (ushort)o.UInt32(arg, 0, 65535); break;
            case HMarkFields.DestinationPortMask: DestinationPortMask = (ushort)o.UInt32(arg, 0, 65535); break;
            case HMarkFields.SpiMask: SpiMask = o.UInt32(arg); break;
            case HMarkFields.SourcePort: SourcePortSet = (ushort)o.UInt32(arg, 0, 65535); break;
            case HMarkFields.DestinationPort: DestinationPortSet = (ushort)o.UInt32(arg, 0, 65535); break;
            case HMarkFields.Spi: SpiSet = o.UInt32(arg); break;
            case HMarkFields.ProtocolMask: ProtocolMask = (ushort)o.UInt32(arg, 0, 65535); break;
            case HMarkFields.Random: Random = o.UInt32(arg); break;
            case HMarkFields.Modulus: Modulus = o.UInt32(arg, 1); break; // .min = 1: a modulus of 0 would divide by zero
            default: Offset = o.UInt32(arg); break;
        }
        Fields |= field;
        return true;
    }

    /// <summary>hmark_parse_type: each word sets its field to all ones (ct: hash the conntrack tuple).</summary>
    private void ParseTuple(XtOption o, string text)
    {
        foreach (var word in text.Split(','))
        {
            // strncasecmp(type, name, len): a case-insensitive prefix of a name is taken, in this order.
            string? match = word.Length == 0 ? null : Array.Find(TupleWords, w => w.StartsWith(word, StringComparison.OrdinalIgnoreCase));
            switch (match)
            {
                case "ct": Fields |= HMarkFields.Conntrack; break;
                case "src": SourcePrefix = (byte)(o.Family == IptFamily.IPv6 ? 128 : 32); Fields |= HMarkFields.SourceMask; break;
                case "dst": DestinationPrefix = (byte)(o.Family == IptFamily.IPv6 ? 128 : 32); Fields |= HMarkFields.DestinationMask; break;
                case "sport": SourcePortMask = 0xffff; Fields |= HMarkFields.SourcePortMask; break;
                case "dport": DestinationPortMask = 0xffff; Fields |= HMarkFields.DestinationPortMask; break;
                case "proto": ProtocolMask = 0xffff; Fields |= HMarkFields.ProtocolMask; break;
                case "spi": SpiMask = uint.MaxValue; Fields |= HMarkFields.SpiMask; break;
                default: throw o.Fail("bad type", word, "a comma-separated list of src, dst, sport, dport, spi, proto, ct");
            }
        }
    }

    private static readonly string[] TupleWords = ["ct", "src", "dst", "sport", "dport", "proto", "spi"];

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if ((Fields & HMarkFields.Modulus) == 0)
            throw check.Missing("--hmark-mod is mandatory", "--hmark-mod VALUE");
        if ((Fields & HMarkFields.Random) == 0)
            throw check.Missing("--hmark-rnd is mandatory", "--hmark-rnd VALUE");
        if ((Fields & HMarkFields.SpiMask) != 0 && (Fields & (HMarkFields.SourcePortMask | HMarkFields.DestinationPortMask)) != 0)
            throw new HostParseException(Location, $"{Name}: you cannot use --hmark-spi-mask and --hmark-?port-mask at the same time", "--hmark-spi-mask", "either the SPI mask or the port masks");
        // hmark_tg_check: an SPI value cannot be ORed in beside port values either.
        if ((Fields & HMarkFields.Spi) != 0 && (Fields & (HMarkFields.SourcePort | HMarkFields.DestinationPort)) != 0)
            throw new HostParseException(Location, $"{Name}: --hmark-spi cannot be used with --hmark-sport/--hmark-dport (the kernel refuses it)", "--hmark-spi", "either the SPI value or the port values");
        if ((Fields & (PacketFields | HMarkFields.Conntrack)) == 0)
            throw check.Missing("you have to specify --hmark-tuple at least", "--hmark-tuple or a --hmark-*-prefix/-mask option");
    }

    /// <summary>HMARK_ip4_save/HMARK_ip6_save then HMARK_save: prefixes, masks in fixed-width hex, rnd, mod, offset, ct.</summary>
    public override void Save(SaveWriter w)
    {
        if ((Fields & HMarkFields.SourceMask) != 0)
            w.Opt("--hmark-src-prefix", SourcePrefix);
        if ((Fields & HMarkFields.DestinationMask) != 0)
            w.Opt("--hmark-dst-prefix", DestinationPrefix);
        if ((Fields & HMarkFields.SourcePortMask) != 0)
            w.Opt("--hmark-sport-mask", XtValues.Hex(SourcePortMask, 4));
        if ((Fields & HMarkFields.DestinationPortMask) != 0)
            w.Opt("--hmark-dport-mask", XtValues.Hex(DestinationPortMask, 4));
        if ((Fields & HMarkFields.SpiMask) != 0)
            w.Opt("--hmark-spi-mask", XtValues.Hex(SpiMask, 8));
        if ((Fields & HMarkFields.SourcePort) != 0)
            w.Opt("--hmark-sport", XtValues.Hex(SourcePortSet, 4));
        if ((Fields & HMarkFields.DestinationPort) != 0)
            w.Opt("--hmark-dport", XtValues.Hex(DestinationPortSet, 4));
        if ((Fields & HMarkFields.Spi) != 0)
            w.Opt("--hmark-spi", XtValues.Hex(SpiSet, 8));
        if ((Fields & HMarkFields.ProtocolMask) != 0)
            w.Opt("--hmark-proto-mask", XtValues.Hex(ProtocolMask, 2));
        if ((Fields & HMarkFields.Random) != 0)
            w.Opt("--hmark-rnd", XtValues.Hex(Random, 8));
        if ((Fields & HMarkFields.Modulus) != 0)
            w.Opt("--hmark-mod", Modulus.ToString(CultureInfo.InvariantCulture));
        if ((Fields & HMarkFields.Offset) != 0)
            w.Opt("--hmark-offset", Offset.ToString(CultureInfo.InvariantCulture));
        if ((Fields & HMarkFields.Conntrack) != 0)
            w.Opt("--hmark-tuple", "ct");
    }
}
