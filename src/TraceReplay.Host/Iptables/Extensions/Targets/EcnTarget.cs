using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>What `-j ECN` rewrites (IPT_ECN_OP_SET_IP, _SET_ECE, _SET_CWR).</summary>
[Flags]
public enum EcnOperations : byte
{
    None = 0,
    SetIp = 0x01,
    SetEce = 0x10,
    SetCwr = 0x20,
}

/// <summary>
/// `-j ECN` (extensions/libipt_ECN.c; kernel ipt_ECN.c ecn_tg): rewrites the ECN field of the IPv4
/// header and/or the ECE and CWR bits of TCP, and goes on. `--ecn-tcp-remove` clears both TCP bits.
/// </summary>
[XtTarget("ECN", Family = IptFamily.IPv4)]
public sealed class EcnTarget : XtTarget
{
    public EcnOperations Operations { get; private set; }

    /// <summary>The ECT codepoint written to the IP header (0-3) with <see cref="EcnOperations.SetIp"/>.</summary>
    public byte IpEct { get; private set; }

    /// <summary>The ECE bit value written with <see cref="EcnOperations.SetEce"/>.</summary>
    public bool Ece { get; private set; }

    /// <summary>The CWR bit value written with <see cref="EcnOperations.SetCwr"/>.</summary>
    public bool Cwr { get; private set; }

    private XtOptionSet _seen;

    public override bool IsTerminating => false;

    /// <summary>ipt_ECN registers with `.table = "mangle"`.</summary>
    public override IReadOnlyCollection<string>? Tables => Mangle;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--ecn-tcp-remove":
                _seen.TakeNoInvert(o, 1);
                // ECN_parse assigns (not ORs) the operation here, so an --ecn-ip-ect given before is lost, as in iptables.
                Operations = EcnOperations.SetEce | EcnOperations.SetCwr;
                Ece = Cwr = false;
                return true;
            case "--ecn-tcp-cwr":
                _seen.TakeNoInvert(o, 2);
                Cwr = o.UInt32(o.Arg("0 or 1"), 0, 1) == 1;
                Operations |= EcnOperations.SetCwr;
                return true;
            case "--ecn-tcp-ece":
                _seen.TakeNoInvert(o, 4);
                Ece = o.UInt32(o.Arg("0 or 1"), 0, 1) == 1;
                Operations |= EcnOperations.SetEce;
                return true;
            case "--ecn-ip-ect":
                _seen.TakeNoInvert(o, 8);
                IpEct = (byte)o.UInt32(o.Arg("an ECT codepoint 0-3"), 0, 3);
                Operations |= EcnOperations.SetIp;
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Operations == EcnOperations.None)
            throw check.Missing("an operation is required", "--ecn-tcp-remove, --ecn-tcp-cwr, --ecn-tcp-ece or --ecn-ip-ect");
        // ecn_tg_check: the TCP operations need "-p tcp", not inverted.
        if ((Operations & (EcnOperations.SetEce | EcnOperations.SetCwr)) != 0)
            check.RequireProtocol("the kernel: \"cannot use operation on non-tcp rule\"", Protocols.Tcp);
    }

    /// <summary>ECN_save: exactly "clear ECE and CWR" prints as --ecn-tcp-remove; otherwise ece, cwr, then ip-ect.</summary>
    public override void Save(SaveWriter w)
    {
        // ECN_save compares the whole operation: with --ecn-ip-ect as well, the TCP bits print one by one.
        if (Operations == (EcnOperations.SetEce | EcnOperations.SetCwr) && !Ece && !Cwr)
        {
            w.Opt("--ecn-tcp-remove");
        }
        else
        {
            if ((Operations & EcnOperations.SetEce) != 0)
                w.Opt("--ecn-tcp-ece", Ece ? 1UL : 0UL);
            if ((Operations & EcnOperations.SetCwr) != 0)
                w.Opt("--ecn-tcp-cwr", Cwr ? 1UL : 0UL);
        }
        if ((Operations & EcnOperations.SetIp) != 0)
            w.Opt("--ecn-ip-ect", IpEct);
    }
}
