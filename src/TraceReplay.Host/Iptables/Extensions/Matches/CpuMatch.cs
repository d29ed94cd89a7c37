namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m cpu --cpu N` (extensions/libxt_cpu.c; kernel xt_cpu.c): the CPU handling the packet — offline the replay decides which CPU that is.</summary>
[XtMatch("cpu")]
public sealed class CpuMatch : XtMatch
{
    public uint Cpu { get; private set; }
    public bool Invert { get; private set; }
    private XtOptionSet _given;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--cpu")
            return false;
        _given.Take(o, 1);
        Cpu = o.UInt32(o.Arg("a CPU number"));
        Invert = o.Invert;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_given.None)
            throw check.Fail("needs --cpu", "--cpu N");
    }

    public override void Save(SaveWriter w) => w.Opt("--cpu", Cpu, Invert);
}
