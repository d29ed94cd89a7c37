using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>The TCP options SYNPROXY offers in its SYN/ACK (XT_SYNPROXY_OPT_*).</summary>
[Flags]
public enum SynProxyOptions : byte
{
    None = 0,
    Mss = 0x01,
    WindowScale = 0x02,
    SackPermitted = 0x04,
    Timestamp = 0x08,
    Ecn = 0x10,
}

/// <summary>
/// `-j SYNPROXY [--mss N] [--wscale N] [--sack-perm] [--timestamp] [--ecn]`
/// (extensions/libxt_SYNPROXY.c; kernel xt_SYNPROXY.c synproxy_tg4/synproxy_tg6): answers a
/// client's SYN with a SYN cookie and opens the server connection only after the client's ACK.
/// </summary>
[XtTarget("SYNPROXY")]
public sealed class SynProxyTarget : XtTarget
{
    public SynProxyOptions Options { get; private set; }

    /// <summary>The MSS announced to the client (with <see cref="SynProxyOptions.Mss"/>).</summary>
    public ushort Mss { get; private set; }

    /// <summary>The window scale announced to the client (with <see cref="SynProxyOptions.WindowScale"/>).</summary>
    public byte WindowScale { get; private set; }

    /// <summary>A SYN is answered and dropped, a valid ACK stolen, an invalid one dropped; anything else goes on (XT_CONTINUE) — treated as terminating since that is what it does to the packets it is written for.</summary>
    public override bool IsTerminating => true;

    /// <summary>xt_SYNPROXY: `.hooks` LOCAL_IN and FORWARD.</summary>
    public override IReadOnlyCollection<string>? Hooks => [Input, Forward];

    private XtOptionSet _seen;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--mss":
                _seen.TakeNoInvert(o, (uint)SynProxyOptions.Mss);
                Mss = (ushort)o.UInt32(o.Arg("an MSS 0-65535"), 0, 65535);
                Options |= SynProxyOptions.Mss;
                return true;
            case "--wscale":
                _seen.TakeNoInvert(o, (uint)SynProxyOptions.WindowScale);
                WindowScale = (byte)o.UInt32(o.Arg("a window scale 0-255"), 0, 255);
                Options |= SynProxyOptions.WindowScale;
                return true;
            case "--sack-perm":
                _seen.TakeNoInvert(o, (uint)SynProxyOptions.SackPermitted);
                Options |= SynProxyOptions.SackPermitted;
                return true;
            case "--timestamp":
                _seen.TakeNoInvert(o, (uint)SynProxyOptions.Timestamp);
                Options |= SynProxyOptions.Timestamp;
                return true;
            case "--ecn":
                _seen.TakeNoInvert(o, (uint)SynProxyOptions.Ecn);
                Options |= SynProxyOptions.Ecn;
                return true;
            default:
                return false;
        }
    }

    /// <summary>synproxy_tg4_check: "-p tcp" and not inverted.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) =>
        check.RequireProtocol("the kernel's synproxy_tg4_check/synproxy_tg6_check", Protocols.Tcp);

    /// <summary>SYNPROXY_save: sack-perm, timestamp, wscale, mss, ecn, in that order.</summary>
    public override void Save(SaveWriter w)
    {
        if ((Options & SynProxyOptions.SackPermitted) != 0)
            w.Opt("--sack-perm");
        if ((Options & SynProxyOptions.Timestamp) != 0)
            w.Opt("--timestamp");
        if ((Options & SynProxyOptions.WindowScale) != 0)
            w.Opt("--wscale", WindowScale);
        if ((Options & SynProxyOptions.Mss) != 0)
            w.Opt("--mss", Mss);
        if ((Options & SynProxyOptions.Ecn) != 0)
            w.Opt("--ecn");
    }
}
