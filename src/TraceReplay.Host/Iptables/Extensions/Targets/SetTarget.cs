using TraceReplay.Host.Parsing;
using static TraceReplay.Host.Iptables.Extensions.XtChains;

namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// One set reference of `-j SET` (struct xt_set_info): the set's name and, per dimension, whether
/// the packet's source or destination fills it (`src,dst` → dimension 2, source flag bit 1).
/// </summary>
public readonly record struct XtSetRef(string Name, byte Dimension, byte SourceFlags)
{
    /// <summary>True when dimension <paramref name="dim"/> (1-based) takes the source address/port.</summary>
    public bool IsSource(int dim) => (SourceFlags & (1 << dim)) != 0;

    /// <summary>The `src,dst` list as print_target writes it.</summary>
    public string FlagsText
    {
        get
        {
            var parts = new string[Dimension];
            for (int i = 1; i <= Dimension; i++)
                parts[i - 1] = IsSource(i) ? "src" : "dst";
            return string.Join(',', parts);
        }
    }
}

/// <summary>
/// `-j SET` revision 3 (extensions/libxt_SET.c set_target_parse_v3/set_target_save_v3; kernel
/// xt_set.c set_target_v3): adds the packet to / deletes it from ipsets, or maps an entry's
/// skbinfo (mark, priority, queue) onto the packet, and goes on (XT_CONTINUE).
/// </summary>
[XtTarget("SET")]
public sealed class SetTarget : XtTarget, IUsesIpsets
{
    private const uint Add = 1, Del = 2, Map = 4, FTimeout = 8, FExist = 16, MapMark = 32, MapPrio = 64, MapQueue = 128;
    private const int IpsetMaxNameLength = 31; // IPSET_MAXNAMELEN - 1
    private const int IpsetDimMax = 6;
    private XtOptionSet _seen;

    public XtSetRef? AddSet { get; private set; }
    public XtSetRef? DelSet { get; private set; }
    public XtSetRef? MapSet { get; private set; }

    /// <summary>`--timeout` for added entries; null: the set's default (UINT32_MAX in the kernel struct).</summary>
    public uint? Timeout { get; private set; }

    /// <summary>IPSET_FLAG_EXIST: re-adding an entry resets its timeout instead of failing.</summary>
    public bool Exist { get; private set; }
    public bool MapMarkFlag { get; private set; }
    public bool MapPrioFlag { get; private set; }
    public bool MapQueueFlag { get; private set; }

    public override bool IsTerminating => false;

    public IEnumerable<string> SetNames =>
        new[] { AddSet, DelSet, MapSet }.Where(s => s is not null).Select(s => s!.Value.Name).Distinct(StringComparer.Ordinal);

    /// <summary>set_target_v3_checkentry: `--map-set` only in mangle.</summary>
    public override IReadOnlyCollection<string>? Tables => MapSet is not null ? Mangle : null;

    /// <summary>set_target_v3_checkentry: mapping priority or queue only from FORWARD, OUTPUT, POSTROUTING.</summary>
    public override IReadOnlyCollection<string>? Hooks => MapSet is not null && (MapPrioFlag || MapQueueFlag) ? [Forward, Output, PostRouting] : null;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--add-set":
                _seen.TakeNoInvert(o, Add);
                AddSet = ParseRef(o);
                return true;
            case "--del-set":
                _seen.TakeNoInvert(o, Del);
                DelSet = ParseRef(o);
                return true;
            case "--map-set":
                _seen.TakeNoInvert(o, Map);
                MapSet = ParseRef(o);
                return true;
            case "--timeout":
                _seen.TakeNoInvert(o, FTimeout);
                Timeout = o.UInt32(o.Arg("seconds 0-4294967294"), 0, uint.MaxValue - 1);
                return true;
            case "--exist":
                _seen.TakeNoInvert(o, FExist);
                Exist = true;
                return true;
            case "--map-mark":
                _seen.TakeNoInvert(o, MapMark);
                MapMarkFlag = true;
                return true;
            case "--map-prio":
                _seen.TakeNoInvert(o, MapPrio);
                MapPrioFlag = true;
                return true;
            case "--map-queue":
                _seen.TakeNoInvert(o, MapQueue);
                MapQueueFlag = true;
                return true;
            default:
                return false;
        }
    }

    /// <summary>parse_target (extensions/libxt_set.h): `NAME src|dst[,src|dst]...`, two words.</summary>
    private static XtSetRef ParseRef(XtOption o)
    {
        string name = o.Arg("a set name and its src/dst flags");
        if (name.Length > IpsetMaxNameLength)
            throw o.Fail($"set name is {name.Length} characters long", name, $"at most {IpsetMaxNameLength} characters (IPSET_MAXNAMELEN)");
        string flags = o.OptionalArg() ?? throw new HostParseException(o.Location, $"{o.Name} requires two args (iptables: \"{o.Name} requires two args.\")", o.Name, $"{o.Name} NAME src|dst[,src|dst]...");
        string[] parts = flags.Split(',');
        if (parts.Length > IpsetDimMax)
            throw o.Fail($"more than {IpsetDimMax} src/dst flags", flags, $"at most {IpsetDimMax} comma-separated src/dst");
        byte src = 0;
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i] == "src")
                src |= (byte)(1 << (i + 1));
            else if (parts[i] != "dst")
                throw o.Fail("not 'src' or 'dst'", parts[i], "a comma-separated list of src and dst (lower case)");
        }
        return new XtSetRef(name, (byte)parts.Length, src);
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has((Add | Del | Map)))
            throw check.Missing("you must specify either --add-set or --del-set or --map-set", "--add-set, --del-set or --map-set NAME FLAGS");
        if (MapSet is null && (MapMarkFlag || MapPrioFlag || MapQueueFlag))
            throw check.Missing("--map-mark/--map-prio/--map-queue can be used with --map-set only", "--map-set NAME FLAGS");
        if (MapSet is not null && !(MapMarkFlag || MapPrioFlag || MapQueueFlag))
            throw check.Missing("--map-set needs --map-mark, --map-prio or --map-queue", "--map-mark, --map-prio or --map-queue");
    }

    /// <summary>set_target_save_v3: add (with --exist and --timeout), del, map and its flags.</summary>
    public override void Save(SaveWriter w)
    {
        SaveRef(w, "--add-set", AddSet);
        if (Exist)
            w.Opt("--exist");
        if (Timeout is { } t)
            w.Opt("--timeout", t);
        SaveRef(w, "--del-set", DelSet);
        SaveRef(w, "--map-set", MapSet);
        if (MapMarkFlag)
            w.Opt("--map-mark");
        if (MapPrioFlag)
            w.Opt("--map-prio");
        if (MapQueueFlag)
            w.Opt("--map-queue");
    }

    private static void SaveRef(SaveWriter w, string option, XtSetRef? set)
    {
        if (set is { } s)
            w.Opt(option, s.Name + " " + s.FlagsText);
    }
}
