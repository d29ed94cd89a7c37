using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>The one command of a recent match (XT_RECENT_SET/CHECK/UPDATE/REMOVE).</summary>
public enum RecentCommand : byte
{
    Set,
    Check,
    Update,
    Remove,
}

/// <summary>
/// `-m recent` (extensions/libxt_recent.c revision 1; kernel xt_recent.c recent_mt): a named list of
/// recently seen addresses — add (--set), test (--rcheck), test and refresh (--update) or delete
/// (--remove) the packet's source (--rsource, default) or destination address, optionally only
/// counting hits within --seconds and at least --hitcount of them.
/// </summary>
[XtMatch("recent")]
public sealed class RecentMatch : XtMatch
{
    private const int OSet = 0, OCheck = 1, OUpdate = 2, ORemove = 3, OSeconds = 4, OReap = 5, OHitcount = 6, ORttl = 7, OName = 8, OSource = 9, ODest = 10, OMask = 11;
    private const uint AnyCommand = 0xF;
    private XtOptionSet _seen;
    private IpAddr? _mask;

    public RecentCommand Command { get; private set; }
    public bool Invert { get; private set; }
    public uint Seconds { get; private set; }
    public bool Reap { get; private set; }
    public uint HitCount { get; private set; }
    public bool Rttl { get; private set; }
    public string ListName { get; private set; } = "DEFAULT";
    public bool ByDestination { get; private set; }

    /// <summary>The mask applied to the address before lookup (all ones by default).</summary>
    public IpAddr Mask { get; private set; }

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--set":
                Cmd(o, OSet, RecentCommand.Set);
                return true;
            case "--rcheck":
                Cmd(o, OCheck, RecentCommand.Check);
                return true;
            case "--update":
                Cmd(o, OUpdate, RecentCommand.Update);
                return true;
            case "--remove":
                Cmd(o, ORemove, RecentCommand.Remove);
                return true;
            case "--seconds":
                _seen.TakeNoInvert(o, 1u << OSeconds);
                Seconds = o.UInt32(o.Arg("a number of seconds"));
                return true;
            case "--reap":
                _seen.TakeNoInvert(o, 1u << OReap);
                Reap = true;
                return true;
            case "--hitcount":
                _seen.TakeNoInvert(o, 1u << OHitcount);
                HitCount = o.UInt32(o.Arg("a number of hits"));
                return true;
            case "--rttl":
                _seen.TakeNoInvert(o, 1u << ORttl);
                Rttl = true;
                return true;
            case "--name":
            {
                _seen.TakeNoInvert(o, 1u << OName);
                string name = o.Arg("a list name");
                if (name.Length is 0 or > 199)
                    throw o.Fail("bad list name length", name, "1 to 199 characters (XT_RECENT_NAME_LEN)");
                ListName = name;
                return true;
            }
            case "--rsource":
                _seen.TakeNoInvert(o, 1u << OSource, excl: 1u << ODest);
                ByDestination = false;
                return true;
            case "--rdest":
                _seen.TakeNoInvert(o, 1u << ODest, excl: 1u << OSource);
                ByDestination = true;
                return true;
            case "--mask":
                _seen.TakeNoInvert(o, 1u << OMask);
                _mask = o.Address(o.Arg("an address used as mask"));
                return true;
            default:
                return false;
        }
    }

    private void Cmd(XtOption o, int id, RecentCommand cmd)
    {
        if (_seen.Has(AnyCommand))
            throw new Parsing.HostParseException(o.Location, $"{o.Name}: only one of --set, --rcheck, --update or --remove may be given", o.Name, "one command");
        _seen.Take(o, 1u << id);
        Command = cmd;
        Invert = o.Invert;
    }

    /// <summary>recent_check (userspace) and recent_mt_check (kernel).</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_seen.Has(AnyCommand))
            throw check.Fail("you must specify one of --set, --rcheck, --update or --remove", "--set, --rcheck, --update or --remove");
        bool setOrRemove = Command is RecentCommand.Set or RecentCommand.Remove;
        if (Rttl && setOrRemove)
            throw check.Fail("--rttl may only be used with --rcheck or --update", "--rcheck or --update");
        if (setOrRemove && (Seconds != 0 || HitCount != 0 || Reap))
            throw check.Fail("--seconds, --hitcount and --reap only work with --rcheck or --update (the kernel refuses them)", "--rcheck or --update");
        if (Reap && Seconds == 0)
            throw check.Fail("--reap needs --seconds", "--seconds N");
        // recent_mt_check refuses a hitcount of XT_RECENT_MAX_NSTAMPS (256) or more; older kernels
        // loaded it (the corpus has such a dump), and there the count is never reached. Keep the rule
        // as the host had it; `rules check` reports what a current kernel would refuse.
        if (HitCount >= 256)
            LoadProblem = $"recent: --hitcount {HitCount} is above the 255 packets xt_recent remembers (a current kernel refuses the rule; where it loaded, the count is never reached)";
        Mask = _mask ?? (rule.Family == IptFamily.IPv6 ? new IpAddr(ulong.MaxValue, ulong.MaxValue) : IpAddr.FromV4(uint.MaxValue));
    }

    /// <summary>recent_save: command, --seconds, --reap, --hitcount, --rttl, --name, --mask, side.</summary>
    public override void Save(SaveWriter w)
    {
        w.Not(Invert);
        w.Opt(Command switch { RecentCommand.Set => "--set", RecentCommand.Check => "--rcheck", RecentCommand.Update => "--update", _ => "--remove" });
        if (Seconds != 0)
            w.Opt("--seconds", Seconds);
        if (Reap)
            w.Opt("--reap");
        if (HitCount != 0)
            w.Opt("--hitcount", HitCount);
        if (Rttl)
            w.Opt("--rttl");
        w.Opt("--name", ListName);
        w.Opt("--mask", Mask.ToString());
        w.Opt(ByDestination ? "--rdest" : "--rsource");
    }
}
