namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// `-j NFLOG` (extensions/libxt_NFLOG.c; kernel xt_NFLOG.c, `struct xt_nflog_info`): hands the packet
/// to nfnetlink_log group N, then the next rule. `--nflog-range` never worked and is kept only to
/// print back; `--nflog-size` sets XT_NFLOG_F_COPY_LEN. The prefix is kept up to 127 characters
/// (NF_LOG_PREFIXLEN - 1, what the nf_tables back end stores; legacy cut it to 63).
/// </summary>
[XtTarget("NFLOG")]
public sealed class NflogTarget : XtTarget
{
    private const int OGroup = 0, OPrefix = 1, ORange = 2, OSize = 3, OThreshold = 4;
    private XtOptionSet _seen;

    public ushort Group { get; private set; }

    public string Prefix { get; private set; } = string.Empty;

    /// <summary>Bytes of each packet to copy (meaningful only with <see cref="CopyLen"/>).</summary>
    public uint Len { get; private set; }

    /// <summary>XT_NFLOG_F_COPY_LEN: set by `--nflog-size`.</summary>
    public bool CopyLen { get; private set; }

    /// <summary>
    /// Packets to queue before a netlink message; 0 when not given. iptables 1.8.9 no longer sets
    /// XT_NFLOG_DEFAULT_THRESHOLD (1) in init and prints any non-zero value (`--nflog-threshold 1`
    /// round-trips); nfnetlink_log treats 0 as its own default.
    /// </summary>
    public ushort Threshold { get; private set; }

    public override bool IsTerminating => false;

    private static string NameOf(int id) => id switch
    {
        OGroup => "--nflog-group",
        OPrefix => "--nflog-prefix",
        ORange => "--nflog-range",
        OSize => "--nflog-size",
        _ => "--nflog-threshold",
    };

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--nflog-group":
                _seen.TakeNoInvert(o, 1u << OGroup);
                Group = (ushort)o.UInt32(o.Arg("a group number 0-65535"), 0, ushort.MaxValue);
                return true;
            case "--nflog-prefix":
            {
                _seen.TakeNoInvert(o, 1u << OPrefix);
                Prefix = LogTarget.ParsePrefix(o, 128);
                return true;
            }
            case "--nflog-range":
                _seen.TakeNoInvert(o, 1u << ORange, excl: 1u << OSize);
                Len = o.UInt32(o.Arg("a byte count"));
                return true;
            case "--nflog-size":
                _seen.TakeNoInvert(o, 1u << OSize, excl: 1u << ORange);
                Len = o.UInt32(o.Arg("a byte count"));
                CopyLen = true;
                return true;
            case "--nflog-threshold":
                _seen.TakeNoInvert(o, 1u << OThreshold);
                Threshold = (ushort)o.UInt32(o.Arg("a packet count 0-65535"), 0, ushort.MaxValue);
                return true;
            default:
                return false;
        }
    }

    public override void Save(SaveWriter w)
    {
        if (Prefix.Length > 0)
            w.OptString("--nflog-prefix", Prefix);
        if (Group != 0)
            w.Opt("--nflog-group", Group);
        if (CopyLen)
            w.Opt("--nflog-size", Len);
        else if (Len != 0)
            w.Opt("--nflog-range", Len);
        if (Threshold != 0)
            w.Opt("--nflog-threshold", Threshold);
    }
}
