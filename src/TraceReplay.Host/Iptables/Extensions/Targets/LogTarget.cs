namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>`struct xt_log_info` logflags (include/uapi/linux/netfilter/xt_LOG.h), same bit values.</summary>
[Flags]
public enum XtLogFlags : byte
{
    None = 0,
    TcpSequence = 0x01,
    TcpOptions = 0x02,
    IpOptions = 0x04,
    Uid = 0x08,

    /// <summary>XT_LOG_NFLOG: unsupported by the kernel, never set by iptables.</summary>
    NfLog = 0x10,
    MacDecode = 0x20,
}

/// <summary>
/// `-j LOG` (extensions/libxt_LOG.c; kernel xt_LOG.c via nf_log_syslog): a kernel log line per packet,
/// then the next rule. Level by number 0-7 or syslog name (xtables' XTTYPE_SYSLOGLEVEL table,
/// case-sensitive: `err` and `warn` are not in it), default 4 (warning) and then not printed. The
/// prefix is cut to 29 characters (char prefix[30]).
/// </summary>
[XtTarget("LOG")]
public sealed class LogTarget : XtTarget
{
    private const byte DefaultLevel = 4; // LOG_WARNING

    private static readonly Dictionary<string, byte> LevelNames = new(StringComparer.Ordinal)
    {
        ["alert"] = 1, ["crit"] = 2, ["debug"] = 7, ["emerg"] = 0, ["error"] = 3,
        ["info"] = 6, ["notice"] = 5, ["panic"] = 0, ["warning"] = 4,
    };

    private const int OLevel = 6, OPrefix = 7;
    private XtOptionSet _seen;

    /// <summary>The syslog level 0 (emerg) … 7 (debug).</summary>
    public byte Level { get; private set; } = DefaultLevel;

    public string Prefix { get; private set; } = string.Empty;

    public XtLogFlags Flags { get; private set; }

    public override bool IsTerminating => false;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--log-level":
            {
                _seen.TakeNoInvert(o, 1u << OLevel);
                string arg = o.Arg("a level 0-7 or emerg, alert, crit, error, warning, notice, info, debug");
                if (XtValues.TryParseUInt(arg, out ulong n) && n <= 7)
                    Level = (byte)n;
                else if (LevelNames.TryGetValue(arg, out byte l))
                    Level = l;
                else
                    throw o.Fail($"log level \"{arg}\" unknown", arg, "0-7 or one of " + string.Join(", ", LevelNames.Keys));
                return true;
            }
            case "--log-prefix":
            {
                _seen.TakeNoInvert(o, 1u << OPrefix);
                Prefix = ParsePrefix(o, 30);
                return true;
            }
            case "--log-tcp-sequence":
                return Flag(o, XtLogFlags.TcpSequence, 0);
            case "--log-tcp-options":
                return Flag(o, XtLogFlags.TcpOptions, 1);
            case "--log-ip-options":
                return Flag(o, XtLogFlags.IpOptions, 2);
            case "--log-uid":
                return Flag(o, XtLogFlags.Uid, 3);
            case "--log-macdecode":
                return Flag(o, XtLogFlags.MacDecode, 5);
            default:
                return false;
        }
    }

    /// <summary>`--log-prefix` / `--nflog-prefix` (libxt_LOG.c, libxt_NFLOG.c): non-empty, one line, cut to the struct's char[<paramref name="arraySize"/>].</summary>
    internal static string ParsePrefix(XtOption o, int arraySize)
    {
        string arg = o.Arg("the prefix text");
        if (arg.Length > 0 && arg.Contains('\n', StringComparison.Ordinal))
            throw o.Fail($"newlines not allowed in {o.Name}", arg, "a one-line prefix");
        return o.FixedString(arg, arraySize, nonEmpty: true);
    }

    private bool Flag(XtOption o, XtLogFlags flag, int id)
    {
        _seen.TakeNoInvert(o, 1u << id);
        Flags |= flag;
        return true;
    }

    public override void Save(SaveWriter w)
    {
        if (Prefix.Length > 0)
            w.OptString("--log-prefix", Prefix);
        if (Level != DefaultLevel)
            w.Opt("--log-level", Level);
        if ((Flags & XtLogFlags.TcpSequence) != 0)
            w.Opt("--log-tcp-sequence");
        if ((Flags & XtLogFlags.TcpOptions) != 0)
            w.Opt("--log-tcp-options");
        if ((Flags & XtLogFlags.IpOptions) != 0)
            w.Opt("--log-ip-options");
        if ((Flags & XtLogFlags.Uid) != 0)
            w.Opt("--log-uid");
        if ((Flags & XtLogFlags.MacDecode) != 0)
            w.Opt("--log-macdecode");
    }
}
