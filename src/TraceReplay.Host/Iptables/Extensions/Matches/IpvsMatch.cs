namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m ipvs` (extensions/libxt_ipvs.c; kernel xt_ipvs.c ipvs_mt): properties of the IPVS connection a
/// packet belongs to — virtual protocol, address, port, direction, forwarding method, control port.
/// Any option implies --ipvs (the packet must belong to IPVS).
/// </summary>
[XtMatch("ipvs")]
public sealed class IpvsMatch : XtMatch
{
    /// <summary>XT_IPVS_* bits, also the order of the save output.</summary>
    public const byte Property = 1, Proto = 2, VAddr = 4, VPort = 8, Dir = 16, Method = 32, VPortCtl = 64;

    /// <summary>IP_VS_CONN_F_* forwarding methods the match names.</summary>
    public enum ForwardMethod : byte
    {
        Masq = 0,
        Tunnel = 2,
        DirectRoute = 3,
    }

    /// <summary>The IPVS connection table is not part of the host snapshot: evaluated as unknown.</summary>
    public override bool IsOfflineUnknowable => true;

    public byte Bitmask { get; private set; }
    public byte InvertMask { get; private set; }
    public byte Protocol { get; private set; }
    public XtHostMask VirtualAddress { get; private set; }
    public ushort VirtualPort { get; private set; }

    /// <summary>--vdir REPLY (kept as the inversion of ORIGINAL, as the kernel does).</summary>
    public bool DirectionReply => (InvertMask & Dir) != 0;
    public ForwardMethod Forwarding { get; private set; }
    public ushort VirtualPortControl { get; private set; }

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--ipvs":
                Take(o, Property);
                return true;
            case "--vproto":
            {
                Take(o, Proto);
                string p = o.Arg("a protocol name or number");
                Protocol = Protocols.TryParse(p, out byte proto) ? proto : throw o.Fail("unknown protocol", p, "a protocol number or name such as tcp");
                return true;
            }
            case "--vaddr":
                Take(o, VAddr);
                VirtualAddress = o.HostMask(o.Arg("ADDR[/MASK]"));
                return true;
            case "--vport":
                Take(o, VPort);
                VirtualPort = o.Port(o.Arg("a port"));
                return true;
            case "--vdir":
            {
                o.NoInvert();
                Take(o, Dir);
                string d = o.Arg("ORIGINAL or REPLY");
                if (d.Equals("REPLY", StringComparison.OrdinalIgnoreCase))
                    InvertMask |= Dir;
                else if (!d.Equals("ORIGINAL", StringComparison.OrdinalIgnoreCase))
                    throw o.Fail("bad direction", d, "ORIGINAL or REPLY");
                return true;
            }
            case "--vmethod":
            {
                Take(o, Method);
                string m = o.Arg("GATE, IPIP or MASQ");
                Forwarding = m.ToUpperInvariant() switch
                {
                    "GATE" => ForwardMethod.DirectRoute,
                    "IPIP" => ForwardMethod.Tunnel,
                    "MASQ" => ForwardMethod.Masq,
                    _ => throw o.Fail("bad forwarding method", m, "GATE, IPIP or MASQ"),
                };
                return true;
            }
            case "--vportctl":
                Take(o, VPortCtl);
                VirtualPortControl = o.Port(o.Arg("a port"));
                return true;
            default:
                return false;
        }
    }

    private void Take(XtOption o, byte flag)
    {
        _options.Take(o, flag);
        Bitmask |= flag;
        if (o.Invert)
            InvertMask |= flag;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Bitmask == 0)
            throw check.Fail("needs at least one option", "--ipvs, --vproto, --vaddr, --vport, --vdir, --vmethod or --vportctl");
    }

    /// <summary>ipvs_mt_save: --ipvs only when it is the sole test, then proto, vaddr, vport, vdir, vmethod, vportctl.</summary>
    public override void Save(SaveWriter w)
    {
        if (Bitmask == Property)
            w.Opt("--ipvs", (InvertMask & Property) != 0);
        if ((Bitmask & Proto) != 0)
            w.Opt("--vproto", Protocol, (InvertMask & Proto) != 0);
        if ((Bitmask & VAddr) != 0)
            w.Opt("--vaddr", VirtualAddress.ToString(), (InvertMask & VAddr) != 0);
        if ((Bitmask & VPort) != 0)
            w.Opt("--vport", VirtualPort, (InvertMask & VPort) != 0);
        if ((Bitmask & Dir) != 0)
            w.Opt("--vdir", DirectionReply ? "REPLY" : "ORIGINAL");
        if ((Bitmask & Method) != 0)
            w.Opt("--vmethod", Forwarding switch { ForwardMethod.DirectRoute => "GATE", ForwardMethod.Tunnel => "IPIP", _ => "MASQ" }, (InvertMask & Method) != 0);
        if ((Bitmask & VPortCtl) != 0)
            w.Opt("--vportctl", VirtualPortControl, (InvertMask & VPortCtl) != 0);
    }
}
