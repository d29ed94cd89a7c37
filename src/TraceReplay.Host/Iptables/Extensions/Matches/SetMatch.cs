namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>How --packets-*/--bytes-* compare the set element's counter (enum ip_set_counter_op).</summary>
public enum SetCounterOp : byte
{
    None,
    Eq,
    Ne,
    Lt,
    Gt,
}

/// <summary>
/// `-m set --match-set NAME src|dst[,…]` (extensions/libxt_set.c revision 4; kernel xt_set.c
/// set_match_v4): the packet's addresses/ports, taken in the order of the direction flags, are
/// looked up in the ipset; with counter conditions on the matching element.
/// </summary>
[XtMatch("set")]
public sealed class SetMatch : XtMatch, IUsesIpsets
{
    private const int MaxDim = 6; // IPSET_DIM_MAX

    public string SetName { get; private set; } = string.Empty;
    public bool Invert { get; private set; }

    /// <summary>One entry per dimension: true for src, false for dst.</summary>
    public IReadOnlyList<bool> FromSource { get; private set; } = [];
    public bool ReturnNoMatch { get; private set; }
    public bool SkipCounterUpdate { get; private set; }
    public bool SkipSubCounterUpdate { get; private set; }
    public SetCounterOp PacketsOp { get; private set; }
    public ulong Packets { get; private set; }
    public SetCounterOp BytesOp { get; private set; }
    public ulong Bytes { get; private set; }

    public IEnumerable<string> SetNames => SetName.Length > 0 ? [SetName] : [];

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--match-set":
            case "--set":
            {
                _options.Take(o, 1);
                string name = o.Arg("a set name and src/dst flags");
                if (name.Length is 0 or > 31)
                    throw o.Fail("bad set name length", name, "1 to 31 characters (IPSET_MAXNAMELEN)");
                string flags = o.Arg("direction flags such as src or src,dst");
                var dims = new List<bool>();
                foreach (var f in flags.Split(','))
                {
                    dims.Add(f == "src" || (f == "dst" ? false : throw o.Fail("bad direction flag", f, "src or dst, separated by commas")));
                }
                if (dims.Count > MaxDim)
                    throw o.Fail("too many dimensions", flags, $"at most {MaxDim} src/dst flags");
                SetName = name;
                FromSource = dims;
                Invert = o.Invert;
                return true;
            }
            case "--return-nomatch":
                o.NoInvert();
                ReturnNoMatch = true;
                return true;
            case "--update-counters":
                SkipCounterUpdate = o.Invert;
                return true;
            case "--update-subcounters":
                SkipSubCounterUpdate = o.Invert;
                return true;
            case "--packets-eq":
                (PacketsOp, Packets) = (o.Invert ? SetCounterOp.Ne : SetCounterOp.Eq, o.UInt64(o.Arg("a packet count")));
                return true;
            case "--packets-lt":
                o.NoInvert();
                (PacketsOp, Packets) = (SetCounterOp.Lt, o.UInt64(o.Arg("a packet count")));
                return true;
            case "--packets-gt":
                o.NoInvert();
                (PacketsOp, Packets) = (SetCounterOp.Gt, o.UInt64(o.Arg("a packet count")));
                return true;
            case "--bytes-eq":
                (BytesOp, Bytes) = (o.Invert ? SetCounterOp.Ne : SetCounterOp.Eq, o.UInt64(o.Arg("a byte count")));
                return true;
            case "--bytes-lt":
                o.NoInvert();
                (BytesOp, Bytes) = (SetCounterOp.Lt, o.UInt64(o.Arg("a byte count")));
                return true;
            case "--bytes-gt":
                o.NoInvert();
                (BytesOp, Bytes) = (SetCounterOp.Gt, o.UInt64(o.Arg("a byte count")));
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (SetName.Length == 0)
            throw check.Fail("you must specify --match-set with set name and flags", "--match-set NAME src|dst[,...]");
    }

    /// <summary>set_save_v4.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--match-set", SetName, Invert).Raw(" ").Raw(string.Join(',', FromSource.Select(s => s ? "src" : "dst")));
        if (ReturnNoMatch)
            w.Opt("--return-nomatch");
        if (SkipCounterUpdate)
            w.Opt("--update-counters", true);
        if (SkipSubCounterUpdate)
            w.Opt("--update-subcounters", true);
        Counter("--packets-", PacketsOp, Packets);
        Counter("--bytes-", BytesOp, Bytes);

        void Counter(string prefix, SetCounterOp op, ulong value)
        {
            if (op != SetCounterOp.None)
                w.Opt(prefix + (op switch { SetCounterOp.Lt => "lt", SetCounterOp.Gt => "gt", _ => "eq" }), value, op == SetCounterOp.Ne);
        }
    }
}
