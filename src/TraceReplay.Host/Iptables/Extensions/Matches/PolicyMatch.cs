namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>One element of an IPsec policy (struct xt_policy_elem): each field tested only when given, each invertible.</summary>
public sealed class PolicyElement
{
    public uint? ReqId { get; internal set; }
    public bool InvertReqId { get; internal set; }
    public uint? Spi { get; internal set; }
    public bool InvertSpi { get; internal set; }

    /// <summary>esp (50), ah (51) or ipcomp (108).</summary>
    public byte? Protocol { get; internal set; }
    public bool InvertProtocol { get; internal set; }

    /// <summary>true for tunnel mode, false for transport.</summary>
    public bool? Tunnel { get; internal set; }
    public bool InvertMode { get; internal set; }
    public XtHostMask? TunnelSource { get; internal set; }
    public bool InvertTunnelSource { get; internal set; }
    public XtHostMask? TunnelDestination { get; internal set; }
    public bool InvertTunnelDestination { get; internal set; }

    internal bool IsEmpty => ReqId is null && Spi is null && Protocol is null && Tunnel is null && TunnelSource is null && TunnelDestination is null;
}

/// <summary>
/// `-m policy` (extensions/libxt_policy.c; kernel xt_policy.c): the IPsec policy used to decapsulate
/// (--dir in) or that will encapsulate (--dir out) the packet, as a list of elements joined by --next,
/// compared in order with --strict. The kernel refuses --dir out in PREROUTING/INPUT and --dir in in
/// POSTROUTING/OUTPUT.
/// </summary>
[XtMatch("policy")]
public sealed class PolicyMatch : XtMatch
{
    private const int MaxElements = 4; // XT_POLICY_MAX_ELEM
    private readonly List<PolicyElement> _elements = [new PolicyElement()];
    private const uint FDir = 1, FPol = 2;
    private XtOptionSet _given;

    /// <summary>--dir in (true) or out.</summary>
    public bool DirectionIn { get; private set; }

    /// <summary>--pol none: the packet must not be subject to IPsec.</summary>
    public bool PolicyNone { get; private set; }
    public bool Strict { get; private set; }

    /// <summary>The elements (empty for --pol none).</summary>
    public IReadOnlyList<PolicyElement> Elements => PolicyNone ? [] : _elements;

    /// <summary>The host snapshot has no xfrm states or policies, so whether IPsec applied cannot be known offline.</summary>
    public override bool IsOfflineUnknowable => true;

    private static readonly string[] InHooks = ["PREROUTING", "INPUT", "FORWARD"];
    private static readonly string[] OutHooks = ["FORWARD", "OUTPUT", "POSTROUTING"];

    public override IReadOnlyCollection<string>? Hooks => DirectionIn ? InHooks : OutHooks;

    protected internal override bool Parse(XtOption o)
    {
        var e = _elements[^1];
        switch (o.Name)
        {
            case "--dir":
            {
                _given.TakeNoInvert(o, FDir);
                string d = o.Arg("in or out");
                DirectionIn = d == "in" || (d == "out" ? false : throw o.Fail("bad direction", d, "in or out"));
                return true;
            }
            case "--pol":
            {
                _given.TakeNoInvert(o, FPol);
                string p = o.Arg("none or ipsec");
                PolicyNone = p == "none" || (p == "ipsec" ? false : throw o.Fail("bad policy", p, "none or ipsec"));
                return true;
            }
            case "--strict":
                o.NoInvert();
                Strict = true;
                return true;
            case "--reqid":
                Double(o, e.ReqId is not null);
                e.ReqId = o.UInt32(o.Arg("a request id"));
                e.InvertReqId = o.Invert;
                return true;
            case "--spi":
                Double(o, e.Spi is not null);
                e.Spi = o.UInt32(o.Arg("an SPI"));
                e.InvertSpi = o.Invert;
                return true;
            case "--proto":
            {
                Double(o, e.Protocol is not null);
                string p = o.Arg("esp, ah or ipcomp");
                if (!Protocols.TryParse(p, out byte proto) || proto is not (Protocols.Esp or Protocols.Ah or 108))
                    throw o.Fail("protocol must be esp, ah or ipcomp", p, "esp, ah or ipcomp");
                e.Protocol = proto;
                e.InvertProtocol = o.Invert;
                return true;
            }
            case "--mode":
            {
                Double(o, e.Tunnel is not null);
                string m = o.Arg("transport or tunnel");
                e.Tunnel = m == "tunnel" || (m == "transport" ? false : throw o.Fail("bad mode", m, "transport or tunnel"));
                e.InvertMode = o.Invert;
                return true;
            }
            case "--tunnel-src":
                Double(o, e.TunnelSource is not null);
                e.TunnelSource = o.HostMask(o.Arg("ADDR[/MASK]"));
                e.InvertTunnelSource = o.Invert;
                return true;
            case "--tunnel-dst":
                Double(o, e.TunnelDestination is not null);
                e.TunnelDestination = o.HostMask(o.Arg("ADDR[/MASK]"));
                e.InvertTunnelDestination = o.Invert;
                return true;
            case "--next":
                o.NoInvert();
                if (_elements.Count == MaxElements)
                    throw new Parsing.HostParseException(o.Location, "--next: maximum policy depth reached", o.Name, $"at most {MaxElements} elements");
                _elements.Add(new PolicyElement());
                return true;
            default:
                return false;
        }
    }

    private static void Double(XtOption o, bool given)
    {
        if (given)
            throw new Parsing.HostParseException(o.Location, $"double {o.Name} option in one policy element", o.Name, $"--next before another {o.Name}");
    }

    /// <summary>policy_check: direction required, --pol none alone, --strict needs non-empty elements, tunnel addresses only in tunnel mode.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_given.Has(FDir))
            throw check.Fail("neither --dir in nor --dir out specified", "--dir in|out");
        if (!_given.Has(FPol))
            throw check.Fail("--pol is required", "--pol none|ipsec");
        if (PolicyNone)
        {
            if (Strict)
                throw check.Fail("policy none but --strict given", "--pol ipsec");
            if (_elements.Count > 1 || !_elements[0].IsEmpty)
                throw check.Fail("policy none but policy given", "--pol ipsec");
            return;
        }
        if (!Strict && _elements.Count > 1)
            throw check.Fail("multiple elements but no --strict", "--strict");
        for (int i = 0; i < _elements.Count; i++)
        {
            var e = _elements[i];
            if (Strict && e.IsEmpty)
                throw check.Fail($"empty policy element {i}", "--reqid, --spi, --proto, --mode or --tunnel-src/dst in every element");
            if ((e.TunnelSource is not null || e.TunnelDestination is not null) && (e.Tunnel ?? false) == e.InvertMode)
                throw check.Fail("--tunnel-src/--tunnel-dst is only valid in tunnel mode", "--mode tunnel");
        }
    }

    /// <summary>policy4_save / policy6_save: flags, then each element (reqid, spi, proto, mode, tunnel-dst, tunnel-src) joined by --next.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--dir", DirectionIn ? "in" : "out").Opt("--pol", PolicyNone ? "none" : "ipsec");
        if (Strict)
            w.Opt("--strict");
        var elements = Elements;
        for (int i = 0; i < elements.Count; i++)
        {
            var e = elements[i];
            if (e.ReqId is { } r)
                w.Opt("--reqid", r, e.InvertReqId);
            if (e.Spi is { } s)
                w.Opt("--spi", XtValues.Hex(s), e.InvertSpi);
            if (e.Protocol is { } p)
                w.Opt("--proto", p switch { Protocols.Esp => "esp", Protocols.Ah => "ah", _ => "ipcomp" }, e.InvertProtocol);
            if (e.Tunnel is { } t)
                w.Opt("--mode", t ? "tunnel" : "transport", e.InvertMode);
            if (e.TunnelDestination is { } d)
                w.Opt("--tunnel-dst", d.ToString(), e.InvertTunnelDestination);
            if (e.TunnelSource is { } src)
                w.Opt("--tunnel-src", src.ToString(), e.InvertTunnelSource);
            if (i + 1 < elements.Count)
                w.Opt("--next");
        }
    }
}
