namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>Connection states as xt_conntrack.h numbers them (XT_CONNTRACK_STATE_BIT(ctinfo) and the extra SNAT/DNAT/UNTRACKED bits).</summary>
[Flags]
public enum CtState : ushort
{
    None = 0,
    Invalid = 1 << 0,
    Established = 1 << 1,
    Related = 1 << 2,
    New = 1 << 3,
    Snat = 1 << 6,
    Dnat = 1 << 7,
    Untracked = 1 << 8,
}

/// <summary>Conntrack entry status bits the match can test (IPS_* of nf_conntrack_common.h).</summary>
[Flags]
public enum CtStatus : uint
{
    None = 0,
    Expected = 1 << 0,
    SeenReply = 1 << 1,
    Assured = 1 << 2,
    Confirmed = 1 << 3,
}

/// <summary>
/// `-m conntrack` (extensions/libxt_conntrack.c revision 3; kernel xt_conntrack.c conntrack_mt):
/// state, status, protocol, original/reply tuple addresses and ports, expiry and direction, each
/// invertible. Only options given are tested (match_flags).
/// </summary>
[XtMatch("conntrack")]
public sealed class ConntrackMatch : XtMatch
{
    private XtOptionSet _seen;

    /// <summary>XT_CONNTRACK_* match flags, in the order the save hook prints them.</summary>
    public enum Field
    {
        State, Proto, OrigSrc, OrigDst, ReplSrc, ReplDst, OrigSrcPort, OrigDstPort, ReplSrcPort, ReplDstPort, Status, Expires, Direction,
    }

    /// <summary>Which fields are tested, as bits of <see cref="Field"/>.</summary>
    public uint MatchFlags => _seen.Bits;
    public uint InvertFlags { get; private set; }

    public CtState State { get; private set; }
    public byte Protocol { get; private set; }
    public XtHostMask OrigSource { get; private set; }
    public XtHostMask OrigDestination { get; private set; }
    public XtHostMask ReplySource { get; private set; }
    public XtHostMask ReplyDestination { get; private set; }
    public XtRange OrigSourcePorts { get; private set; }
    public XtRange OrigDestinationPorts { get; private set; }
    public XtRange ReplySourcePorts { get; private set; }
    public XtRange ReplyDestinationPorts { get; private set; }
    public CtStatus Status { get; private set; }

    /// <summary>Remaining lifetime of the entry in seconds.</summary>
    public XtRange Expires { get; private set; }

    /// <summary>--ctdir REPLY: the packet must be in the reply direction (ORIGINAL is the inverse).</summary>
    public bool DirectionReply { get; private set; }

    public bool Has(Field f) => _seen.Has(1u << (int)f);
    public bool Inverted(Field f) => (InvertFlags & (1u << (int)f)) != 0;

    internal static readonly (string Name, CtState Bit)[] StateNames =
    [
        ("INVALID", CtState.Invalid), ("NEW", CtState.New), ("RELATED", CtState.Related), ("ESTABLISHED", CtState.Established),
        ("UNTRACKED", CtState.Untracked), ("SNAT", CtState.Snat), ("DNAT", CtState.Dnat),
    ];

    private static readonly (string Name, CtStatus Bit)[] StatusNames =
        [("EXPECTED", CtStatus.Expected), ("SEEN_REPLY", CtStatus.SeenReply), ("ASSURED", CtStatus.Assured), ("CONFIRMED", CtStatus.Confirmed)];

    protected internal override bool Parse(XtOption o)
    {
        Field f;
        switch (o.Name)
        {
            case "--ctstate":
                f = Field.State;
                _seen.Take(o, 1u << (int)f);
                State = ParseStates(o, o.Arg("a comma-separated list of INVALID, NEW, RELATED, ESTABLISHED, UNTRACKED, SNAT, DNAT"), StateNames.Length);
                break;
            case "--ctproto":
            {
                f = Field.Proto;
                _seen.Take(o, 1u << (int)f);
                string p = o.Arg("a protocol name or number");
                if (!Protocols.TryParse(p, out byte proto))
                    throw o.Fail("unknown protocol", p, "a protocol number 1-255 or a name such as tcp");
                if (proto == 0)
                    throw o.Fail(o.Invert ? "condition would never match protocol" : "specifying 0 as protocol is useless", p, "a protocol other than 0");
                Protocol = proto;
                break;
            }
            case "--ctorigsrc":
                f = Field.OrigSrc;
                _seen.Take(o, 1u << (int)f);
                OrigSource = o.HostMask(o.Arg("ADDR[/MASK]"));
                break;
            case "--ctorigdst":
                f = Field.OrigDst;
                _seen.Take(o, 1u << (int)f);
                OrigDestination = o.HostMask(o.Arg("ADDR[/MASK]"));
                break;
            case "--ctreplsrc":
                f = Field.ReplSrc;
                _seen.Take(o, 1u << (int)f);
                ReplySource = o.HostMask(o.Arg("ADDR[/MASK]"));
                break;
            case "--ctrepldst":
                f = Field.ReplDst;
                _seen.Take(o, 1u << (int)f);
                ReplyDestination = o.HostMask(o.Arg("ADDR[/MASK]"));
                break;
            case "--ctorigsrcport":
                f = Field.OrigSrcPort;
                _seen.Take(o, 1u << (int)f);
                OrigSourcePorts = o.PortRange(o.Arg("PORT[:PORT]"));
                break;
            case "--ctorigdstport":
                f = Field.OrigDstPort;
                _seen.Take(o, 1u << (int)f);
                OrigDestinationPorts = o.PortRange(o.Arg("PORT[:PORT]"));
                break;
            case "--ctreplsrcport":
                f = Field.ReplSrcPort;
                _seen.Take(o, 1u << (int)f);
                ReplySourcePorts = o.PortRange(o.Arg("PORT[:PORT]"));
                break;
            case "--ctrepldstport":
                f = Field.ReplDstPort;
                _seen.Take(o, 1u << (int)f);
                ReplyDestinationPorts = o.PortRange(o.Arg("PORT[:PORT]"));
                break;
            case "--ctstatus":
            {
                f = Field.Status;
                _seen.Take(o, 1u << (int)f);
                string text = o.Arg("a comma-separated list of NONE, EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED");
                CtStatus s = CtStatus.None;
                foreach (var part in text.Split(','))
                {
                    if (part.Equals("NONE", StringComparison.OrdinalIgnoreCase))
                        continue;
                    int k = Array.FindIndex(StatusNames, n => n.Name.Equals(part, StringComparison.OrdinalIgnoreCase));
                    if (k < 0)
                        throw o.Fail("bad ctstatus", part, "NONE, EXPECTED, SEEN_REPLY, ASSURED or CONFIRMED");
                    s |= StatusNames[k].Bit;
                }
                Status = s;
                break;
            }
            case "--ctexpire":
                f = Field.Expires;
                _seen.Take(o, 1u << (int)f);
                Expires = o.Range(o.Arg("TIME[:TIME] in seconds"), uint.MaxValue);
                break;
            case "--ctdir":
            {
                f = Field.Direction;
                _seen.TakeNoInvert(o, 1u << (int)f);
                string d = o.Arg("ORIGINAL or REPLY");
                DirectionReply = d.Equals("REPLY", StringComparison.OrdinalIgnoreCase) || (d.Equals("ORIGINAL", StringComparison.OrdinalIgnoreCase)
                    ? false
                    : throw o.Fail("bad ctdir", d, "ORIGINAL or REPLY"));
                return true;
            }
            default:
                return false;
        }
        if (o.Invert)
            InvertFlags |= 1u << (int)f;
        return true;
    }

    /// <summary>conntrack_ps_states / state_parse_states: comma-separated names, case-insensitive.</summary>
    internal static CtState ParseStates(XtOption o, string text, int names)
    {
        CtState s = CtState.None;
        foreach (var part in text.Split(','))
        {
            int k = Array.FindIndex(StateNames, 0, names, n => n.Name.Equals(part, StringComparison.OrdinalIgnoreCase));
            if (k < 0)
                throw o.Fail("bad state", part, string.Join(", ", StateNames.Take(names).Select(n => n.Name)));
            s |= StateNames[k].Bit;
        }
        return s;
    }

    internal static string StateText(CtState s) =>
        string.Join(',', StateNames.Where(n => (s & n.Bit) != 0).Select(n => n.Name));

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_seen.Bits == 0)
            throw check.Fail("you must specify one or more options", "--ctstate, --ctstatus, --ctproto, … ");
    }

    /// <summary>conntrack_dump (save, revision 3).</summary>
    public override void Save(SaveWriter w)
    {
        if (Has(Field.State))
            w.Opt("--ctstate", StateText(State), Inverted(Field.State));
        if (Has(Field.Proto))
            w.Opt("--ctproto", Protocol, Inverted(Field.Proto));
        Addr("--ctorigsrc", Field.OrigSrc, OrigSource);
        Addr("--ctorigdst", Field.OrigDst, OrigDestination);
        Addr("--ctreplsrc", Field.ReplSrc, ReplySource);
        Addr("--ctrepldst", Field.ReplDst, ReplyDestination);
        Ports("--ctorigsrcport", Field.OrigSrcPort, OrigSourcePorts);
        Ports("--ctorigdstport", Field.OrigDstPort, OrigDestinationPorts);
        Ports("--ctreplsrcport", Field.ReplSrcPort, ReplySourcePorts);
        Ports("--ctrepldstport", Field.ReplDstPort, ReplyDestinationPorts);
        if (Has(Field.Status))
        {
            string text = Status == CtStatus.None ? "NONE" : string.Join(',', StatusNames.Where(n => (Status & n.Bit) != 0).Select(n => n.Name));
            w.Opt("--ctstatus", text, Inverted(Field.Status));
        }
        Ports("--ctexpire", Field.Expires, Expires);
        if (Has(Field.Direction))
            w.Opt("--ctdir", DirectionReply ? "REPLY" : "ORIGINAL");

        void Addr(string name, Field f, XtHostMask a)
        {
            if (Has(f))
                w.Opt(name, a.ToString(), Inverted(f));
        }

        void Ports(string name, Field f, XtRange r)
        {
            if (Has(f))
                w.Opt(name, r, Inverted(f));
        }
    }
}
