using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m physdev` (net/netfilter/xt_physdev.c physdev_mt): the bridge ports br_netfilter recorded.
/// A packet that did not cross a bridge matches only where every given option is inverted.
/// </summary>
public sealed class PhysdevMt(PhysdevMatch m, XtCompileContext c) : XtMatchEvaluator<PhysdevMatch>
{
    private readonly byte _bits = m.Bitmask, _inv = m.InvertMask;
    private readonly string _in = m.InPort.IsWildcard ? m.InPort.Name[..^1] : m.InPort.Name;
    private readonly string _out = m.OutPort.IsWildcard ? m.OutPort.Name[..^1] : m.OutPort.Name;
    private readonly bool _inPrefix = m.InPort.IsWildcard, _outPrefix = m.OutPort.IsWildcard;

    public PhysdevMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    private bool Has(byte op) => (_bits & op) != 0;

    private bool Inv(byte op) => (_inv & op) != 0;

    public override Tristate Match(ref XtActionParam p)
    {
        if (!p.Bridged)
        {
            foreach (byte op in (ReadOnlySpan<byte>)[PhysdevMatch.OpBridged, PhysdevMatch.OpIsIn, PhysdevMatch.OpIsOut, PhysdevMatch.OpIn, PhysdevMatch.OpOut])
            {
                if (Has(op) && !Inv(op))
                    return Tristate.False;
            }
            return Tristate.True;
        }

        string? outdev = p.PhysOutDev, indev = p.PhysInDev;
        if (Has(PhysdevMatch.OpBridged) && (outdev is not null) == Inv(PhysdevMatch.OpBridged))
            return Tristate.False;
        if ((Has(PhysdevMatch.OpIsIn) && (indev is null) != Inv(PhysdevMatch.OpIsIn))
            || (Has(PhysdevMatch.OpIsOut) && (outdev is null) != Inv(PhysdevMatch.OpIsOut)))
            return Tristate.False;
        if (Has(PhysdevMatch.OpIn) && indev is not null && NameMatch(indev, _in, _inPrefix) == Inv(PhysdevMatch.OpIn))
            return Tristate.False;
        if (!Has(PhysdevMatch.OpOut) || outdev is null)
            return Tristate.True;
        return NameMatch(outdev, _out, _outPrefix) != Inv(PhysdevMatch.OpOut) ? Tristate.True : Tristate.False;
    }

    /// <summary>ifname_compare_aligned with the mask iptables built: a prefix for NAME+, else the whole name.</summary>
    private static bool NameMatch(string dev, string name, bool prefix) =>
        prefix ? dev.StartsWith(name, StringComparison.Ordinal) : string.Equals(dev, name, StringComparison.Ordinal);
}
