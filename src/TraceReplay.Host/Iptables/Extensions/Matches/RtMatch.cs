using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>Which routing-header tests of `-m rt` are on (struct ip6t_rt flags, IP6T_RT_*).</summary>
[Flags]
public enum Ip6tRtFlags : byte
{
    None = 0,
    Type = 0x01,
    SegmentsLeft = 0x02,
    Length = 0x04,

    /// <summary>--rt-0-res: the type-0 reserved field must be zero.</summary>
    Reserved = 0x08,

    /// <summary>--rt-0-addrs: the type-0 address list (IP6T_RT_FST), strict unless <see cref="NotStrict"/>.</summary>
    Addresses = 0x10,

    /// <summary>--rt-0-not-strict (IP6T_RT_FST_NSTRICT): the listed addresses in order, others allowed between.</summary>
    NotStrict = 0x20,
}

/// <summary>
/// `-m rt` (extensions/libip6t_rt.c; kernel ip6t_rt.c rt_mt6): routing header type, segments-left
/// range, length, and for type 0 the reserved field and the address list. rt_mt6_check refuses the
/// `--rt-0-*` tests unless `--rt-type 0` (not inverted) is given; userspace wants it before them.
/// </summary>
[XtMatch("rt", Family = IptFamily.IPv6)]
public sealed class RtMatch : XtMatch
{
    /// <summary>IP6T_RT_HOPS: at most 16 addresses in --rt-0-addrs.</summary>
    public const int MaxAddresses = 16;

    private readonly List<IpAddr> _addresses = [];
    private XtOptionSet _options;

    public Ip6tRtFlags Flags { get; private set; }

    /// <summary>The routing type (a u32 in struct ip6t_rt; the kernel compares it with the 8-bit field).</summary>
    public uint RoutingType { get; private set; }
    public bool InvertType { get; private set; }
    public XtRange SegmentsLeft { get; private set; } = new(0, uint.MaxValue);
    public bool InvertSegmentsLeft { get; private set; }

    /// <summary>The header length the kernel compares with ipv6_optlen (bytes).</summary>
    public uint HeaderLength { get; private set; }
    public bool InvertHeaderLength { get; private set; }
    public IReadOnlyList<IpAddr> Addresses => _addresses;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--rt-type":
                _options.Take(o, 1);
                RoutingType = o.UInt32(o.Arg("a routing header type"));
                InvertType = o.Invert;
                Flags |= Ip6tRtFlags.Type;
                return true;
            case "--rt-segsleft":
                _options.Take(o, 2);
                SegmentsLeft = o.Range(o.Arg("NUM[:NUM]"), uint.MaxValue);
                InvertSegmentsLeft = o.Invert;
                Flags |= Ip6tRtFlags.SegmentsLeft;
                return true;
            case "--rt-len":
                _options.Take(o, 4);
                HeaderLength = o.UInt32(o.Arg("a header length"));
                InvertHeaderLength = o.Invert;
                Flags |= Ip6tRtFlags.Length;
                return true;
            case "--rt-0-res":
                _options.Take(o, 8);
                o.NoInvert();
                RequireType0(o);
                Flags |= Ip6tRtFlags.Reserved;
                return true;
            case "--rt-0-addrs":
                _options.Take(o, 16);
                o.NoInvert();
                RequireType0(o);
                ParseAddresses(o, o.Arg("ADDR[,ADDR...]"));
                Flags |= Ip6tRtFlags.Addresses;
                return true;
            case "--rt-0-not-strict":
                _options.Take(o, 32);
                o.NoInvert();
                if ((Flags & Ip6tRtFlags.Addresses) == 0)
                    throw new HostParseException(o.Location, "--rt-0-not-strict needs --rt-0-addrs before it", o.Name, "--rt-0-addrs ADDR[,ADDR...] --rt-0-not-strict");
                Flags |= Ip6tRtFlags.NotStrict;
                return true;
            default:
                return false;
        }
    }

    private void RequireType0(XtOption o)
    {
        if ((Flags & Ip6tRtFlags.Type) == 0 || RoutingType != 0 || InvertType)
            throw new HostParseException(o.Location, $"{o.Name} needs `--rt-type 0' before it (not inverted)", o.Name, "--rt-type 0 " + o.Name);
    }

    private void ParseAddresses(XtOption o, string text)
    {
        string[] parts = text.Split(',');
        if (parts.Length > MaxAddresses)
            throw o.Fail($"{parts.Length} addresses given (iptables: \"too many addresses specified\")", text, $"at most {MaxAddresses} addresses");
        foreach (var part in parts)
            _addresses.Add(o.Address(part));
    }

    public override void Save(SaveWriter w)
    {
        if ((Flags & Ip6tRtFlags.Type) != 0)
            w.Opt("--rt-type", RoutingType, InvertType);
        w.OptRange("--rt-segsleft", SegmentsLeft, InvertSegmentsLeft, uint.MaxValue);
        if ((Flags & Ip6tRtFlags.Length) != 0)
            w.Opt("--rt-len", HeaderLength, InvertHeaderLength);
        if ((Flags & Ip6tRtFlags.Reserved) != 0)
            w.Opt("--rt-0-res");
        if ((Flags & Ip6tRtFlags.Addresses) != 0)
            w.Opt("--rt-0-addrs", string.Join(',', _addresses.Select(Ip6Text)));
        if ((Flags & Ip6tRtFlags.NotStrict) != 0)
            w.Opt("--rt-0-not-strict");
    }

    /// <summary>inet_ntop(AF_INET6): an IPv4-mapped address stays `::ffff:a.b.c.d`, never the bare IPv4 form.</summary>
    internal static string Ip6Text(IpAddr a) => a.ToIPAddress() is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetwork } v4
        ? v4.MapToIPv6().ToString()
        : a.ToString();
}
