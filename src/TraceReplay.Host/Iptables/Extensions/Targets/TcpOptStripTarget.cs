using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j TCPOPTSTRIP [--strip-options KIND[,KIND]...]` (extensions/libxt_TCPOPTSTRIP.c; kernel
/// xt_TCPOPTSTRIP.c tcpoptstrip_tg4): overwrites the listed TCP options with NOPs and goes on.
/// </summary>
[XtTarget("TCPOPTSTRIP")]
public sealed class TcpOptStripTarget : XtTarget
{
    /// <summary>tcp_option_names: the names the parser knows besides numbers.</summary>
    private static readonly (string Name, byte Kind)[] Names =
        [("wscale", 3), ("mss", 2), ("sack-permitted", 4), ("sack", 5), ("timestamp", 8), ("md5", 19)];

    // strip_bmap: one bit per option kind 0-255.
    private readonly uint[] _bitmap = new uint[8];
    private XtOptionSet _seen;

    public override bool IsTerminating => false;

    /// <summary>xt_TCPOPTSTRIP: `.table = "mangle"`, `.proto = IPPROTO_TCP`.</summary>
    public override IReadOnlyCollection<string>? Tables => Mangle;

    /// <summary>Whether option kind <paramref name="kind"/> is stripped.</summary>
    public bool Strips(byte kind) => (_bitmap[kind >> 5] & (1u << (kind & 31))) != 0;

    /// <summary>The stripped kinds, ascending.</summary>
    public IReadOnlyList<byte> StrippedKinds => Enumerable.Range(0, 256).Where(k => Strips((byte)k)).Select(k => (byte)k).ToList();

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--strip-options")
            return false;
        _seen.TakeNoInvert(o, 1);
        string text = o.Arg("option kinds or names, e.g. mss,wscale or 2,3");
        foreach (var part in text.Split(','))
        {
            int kind = Array.FindIndex(Names, n => n.Name == part) is int k and >= 0 ? Names[k].Kind : -1;
            if (kind < 0)
            {
                if (!XtValues.TryParseUInt(part, out ulong v) || v > 255)
                    throw o.Fail("bad TCP option value", part, "a number 2-255 or one of " + string.Join(", ", Names.Select(n => n.Name)));
                kind = (int)v;
            }
            // End-of-list and NOP cannot be stripped (parse_list: "Option value may not be 0 or 1").
            if (kind < 2)
                throw o.Fail("option value may not be 0 or 1", part, "an option kind 2-255");
            _bitmap[kind >> 5] |= 1u << (kind & 31);
        }
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) =>
        check.RequireProtocol("the kernel registers TCPOPTSTRIP with .proto = IPPROTO_TCP", Protocols.Tcp);

    /// <summary>tcpoptstrip_tg_save: the kinds as numbers, ascending, only when there are any.</summary>
    public override void Save(SaveWriter w)
    {
        var kinds = StrippedKinds;
        if (kinds.Count > 0)
            w.Opt("--strip-options", string.Join(',', kinds));
    }
}
