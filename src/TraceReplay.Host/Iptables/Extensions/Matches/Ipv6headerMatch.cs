using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>The extension headers `-m ipv6header` knows, as the bits of ip6t_ipv6header_info.matchflags (MASK_*).</summary>
[Flags]
public enum Ip6tHeaderMask : byte
{
    None = 0,

    /// <summary>MASK_PROTO: a non-extension (upper-layer) header, IPPROTO_RAW in the name table.</summary>
    Protocol = 0x01,

    /// <summary>MASK_NONE: No Next Header (59).</summary>
    NoNextHeader = 0x02,
    Esp = 0x04,
    Ah = 0x08,
    Fragment = 0x10,
    Routing = 0x20,
    DestinationOptions = 0x40,
    HopByHop = 0x80,
}

/// <summary>
/// `-m ipv6header [!] --header NAME[,NAME...] [--soft]` (extensions/libip6t_ipv6header.c; kernel
/// ip6t_ipv6header.c ipv6header_mt6): the set of extension headers the packet carries — exactly
/// that set, or with `--soft` at least one of them.
/// </summary>
[XtMatch("ipv6header", Family = IptFamily.IPv6)]
public sealed class Ipv6headerMatch : XtMatch
{
    // chain_flags: protocol number to mask bit, in the order print_header walks them.
    private static readonly (byte Proto, Ip6tHeaderMask Mask)[] ChainFlags =
    [
        (0, Ip6tHeaderMask.HopByHop), (60, Ip6tHeaderMask.DestinationOptions), (43, Ip6tHeaderMask.Routing),
        (44, Ip6tHeaderMask.Fragment), (51, Ip6tHeaderMask.Ah), (50, Ip6tHeaderMask.Esp),
        (59, Ip6tHeaderMask.NoNextHeader), (255, Ip6tHeaderMask.Protocol),
    ];

    // chain_protos: the module's own names, tried after getprotobyname (and the only names for 0 and 255).
    private static readonly (string Name, byte Proto)[] ChainProtos =
    [
        ("hop-by-hop", 0), ("protocol", 255), ("hop", 0), ("dst", 60), ("route", 43), ("frag", 44), ("auth", 51),
        ("esp", 50), ("none", 59), ("prot", 255), ("0", 0), ("60", 60), ("43", 43), ("44", 44), ("51", 51),
        ("50", 50), ("59", 59), ("255", 255),
    ];

    // getprotobyname over Debian's netbase for the headers this match knows: official names and aliases (case-sensitive).
    private static readonly (string Name, byte Proto)[] NetbaseNames =
    [
        ("ip", 0), ("IP", 0), ("hopopt", 0), ("HOPOPT", 0), ("ipv6-route", 43), ("IPv6-Route", 43), ("ipv6-frag", 44),
        ("IPv6-Frag", 44), ("esp", 50), ("IPSEC-ESP", 50), ("ah", 51), ("IPSEC-AH", 51), ("ipv6-nonxt", 59),
        ("IPv6-NoNxt", 59), ("ipv6-opts", 60), ("IPv6-Opts", 60),
    ];

    private XtOptionSet _options;

    /// <summary>The headers named (matchflags).</summary>
    public Ip6tHeaderMask Headers { get; private set; }

    /// <summary>`! --header` (invflags 0xFF).</summary>
    public bool Invert { get; private set; }

    /// <summary>`--soft` (modeflag): any of the headers present rather than exactly this set.</summary>
    public bool Soft { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--header":
                _options.Take(o, 1);
                Headers = ParseHeaders(o, o.Arg("header names, e.g. hop,dst,route,frag,auth,esp,none,prot"));
                Invert = o.Invert;
                return true;
            case "--soft":
                _options.Take(o, 2);
                o.NoInvert();
                Soft = true;
                return true;
            default:
                return false;
        }
    }

    /// <summary>parse_header: comma-separated names (strtok skips empty ones); a protocol this match has no bit for is an error.</summary>
    private static Ip6tHeaderMask ParseHeaders(XtOption o, string text)
    {
        var mask = Ip6tHeaderMask.None;
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int proto = Lookup(NetbaseNames, name);
            if (proto < 0)
                proto = Lookup(ChainProtos, name);
            if (proto < 0)
            {
                if (!Protocols.TryParse(name, out byte p) || !char.IsAsciiLetter(name[0]))
                    throw o.Fail("unknown header", name, "hop-by-hop, ipv6-opts, ipv6-route, ipv6-frag, ah, esp, ipv6-nonxt, protocol (or hop, dst, route, frag, auth, none, prot, or 0, 60, 43, 44, 51, 50, 59, 255)");
                proto = p;
            }
            int k = Array.FindIndex(ChainFlags, f => f.Proto == proto);
            if (k < 0)
                throw o.Fail($"protocol {proto} is not an IPv6 extension header this match knows (iptables: \"unknown header `{proto}' specified\")", name, "an extension header name");
            mask |= ChainFlags[k].Mask;
        }
        if (mask == Ip6tHeaderMask.None)
            throw o.Fail("no header names (iptables: \"ip6t_ipv6header: cannot parse header names\")", text, "at least one header name");
        return mask;
    }

    private static int Lookup((string Name, byte Proto)[] table, string name)
    {
        foreach (var (n, p) in table)
        {
            if (n == name)
                return p;
        }
        return -1;
    }

    /// <summary>XTOPT_MAND on --header.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_options.Has(1))
            throw check.Fail("needs --header (iptables: \"option \\\"--header\\\" must be specified\")", "--header NAME[,NAME...]");
    }

    public override void Save(SaveWriter w)
    {
        w.Opt("--header", HeaderText(Headers), Invert);
        if (Soft)
            w.Opt("--soft");
    }

    /// <summary>print_header: proto_to_name(proto, 0) — netbase's name when there is one (never for 0), else the module's.</summary>
    public static string HeaderText(Ip6tHeaderMask headers)
    {
        if (headers == Ip6tHeaderMask.None)
            return "NONE";
        var names = new List<string>();
        foreach (var (proto, mask) in ChainFlags)
        {
            if ((headers & mask) != 0)
            {
                names.Add(proto switch
                {
                    0 => "hop-by-hop",
                    255 => "protocol",
                    _ => Protocols.Name(proto, IptFamily.IPv6),
                });
            }
        }
        return string.Join(',', names);
    }
}
