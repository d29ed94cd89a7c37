namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>Which ports of the packet multiport compares (XT_MULTIPORT_SOURCE / _DESTINATION / _EITHER).</summary>
public enum MultiportDirection : byte
{
    Source,
    Destination,
    Either,
}

/// <summary>
/// `-m multiport --sports|--dports|--ports LIST` (extensions/libxt_multiport.c revision 1; kernel
/// xt_multiport.c multiport_mt): up to 15 ports (XT_MULTI_PORTS), a range `A:B` using two slots.
/// </summary>
[XtMatch("multiport")]
public sealed class MultiportMatch : XtMatch
{
    private const int MaxPorts = 15; // XT_MULTI_PORTS
    private readonly List<XtRange> _ports = [];
    private XtOptionSet _flags;

    public MultiportDirection Direction { get; private set; }

    /// <summary>The list as given: single ports as N:N ranges, in order.</summary>
    public IReadOnlyList<XtRange> Ports => _ports;
    public bool Invert { get; private set; }

    /// <summary>Whether <paramref name="port"/> is in the list (multiport_mt's loop, without the direction).</summary>
    public bool Contains(ushort port)
    {
        foreach (var r in _ports)
        {
            if (r.Contains(port))
                return true;
        }
        return false;
    }

    protected internal override bool Parse(XtOption o)
    {
        MultiportDirection d;
        switch (o.Name)
        {
            case "--sports":
            case "--source-ports":
                d = MultiportDirection.Source;
                break;
            case "--dports":
            case "--destination-ports":
                d = MultiportDirection.Destination;
                break;
            case "--ports":
                d = MultiportDirection.Either;
                break;
            default:
                return false;
        }
        // The three options are .excl of each other: one list per match.
        _flags.Take(o, 1);
        Direction = d;
        ParsePorts(o, o.Arg("PORT[,PORT|,PORT:PORT]..."));
        Invert = o.Invert;
        return true;
    }

    /// <summary>parse_multi_ports_v1: comma-separated ports or ranges; a range needs its start below its end.</summary>
    private void ParsePorts(XtOption o, string text)
    {
        // Upstream looks service names up for the rule's protocol; the names known here are the same for all.
        const string proto = "tcp";
        int slots = 0;
        foreach (var part in text.Split(','))
        {
            if (slots >= MaxPorts)
                throw o.Fail($"too many ports specified (at most {MaxPorts}, a range counting two)", text, $"at most {MaxPorts} ports");
            int colon = part.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                ushort p = o.Port(part, proto);
                _ports.Add(new XtRange(p, p));
                slots++;
                continue;
            }
            if (slots == MaxPorts - 1)
                throw o.Fail($"too many ports specified (at most {MaxPorts}, a range counting two)", text, $"at most {MaxPorts} ports");
            ushort lo = o.Port(part[..colon], proto);
            ushort hi = o.Port(part[(colon + 1)..], proto);
            if (lo >= hi)
                throw o.Fail("invalid port range (its start must be below its end)", part, "LOW:HIGH with LOW < HIGH");
            _ports.Add(new XtRange(lo, hi));
            slots += 2;
        }
    }

    /// <summary>
    /// multiport_check: an option is required; check_proto (at parse time upstream) wants `-p` tcp,
    /// udp, udplite, sctp or dccp, not inverted — the kernel's multiport_mt_check refuses others too.
    /// </summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_flags.None)
            throw check.Fail("needs --sports, --dports or --ports (iptables: \"multiport expects an option\")", "--dports PORT[,PORT...]");
        check.RequireProtocol(Protocols.Tcp, Protocols.Udp, Protocols.UdpLite, Protocols.Sctp, Protocols.Dccp);
    }

    /// <summary>__multiport_save_v1: numbers only, ranges as A:B.</summary>
    public override void Save(SaveWriter w)
    {
        string name = Direction switch
        {
            MultiportDirection.Source => "--sports",
            MultiportDirection.Destination => "--dports",
            _ => "--ports",
        };
        // A range always has lo < hi (checked when parsing), so N:N is a single port.
        w.Opt(name, string.Join(',', _ports.Select(r => r.ToString(':'))), Invert);
    }
}
