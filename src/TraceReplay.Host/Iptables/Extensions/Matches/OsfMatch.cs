namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>
/// `-m osf --genre NAME` (extensions/libxt_osf.c; kernel xt_osf.c / nfnetlink_osf.c): passive OS
/// fingerprinting of TCP SYNs against fingerprints loaded with nfnl_osf. Needs `-p tcp`; the loaded
/// fingerprints are host state a rule file does not carry, so it is evaluated as unknown.
/// </summary>
[XtMatch("osf")]
public sealed class OsfMatch : XtMatch
{
    public string Genre { get; private set; } = string.Empty;
    public bool Invert { get; private set; }

    /// <summary>--ttl: 0 check the IP TTL, 1 only that it is below the fingerprint's, 2 do not check.</summary>
    public byte? Ttl { get; private set; }

    /// <summary>--log: 0 every match, 1 first only, 2 all known and unknown.</summary>
    public byte? LogLevel { get; private set; }

    public override bool IsOfflineUnknowable => true;

    private static readonly string[] HookNames = ["PREROUTING", "INPUT", "FORWARD"];

    public override IReadOnlyCollection<string>? Hooks => HookNames;

    private XtOptionSet _options;

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--genre":
            {
                _options.Take(o, 1);
                string g = o.Arg("an OS genre such as Linux");
                if (g.Length is 0 or > 31)
                    throw o.Fail("bad genre length", g, "1 to 31 characters (MAXGENRELEN)");
                Genre = g;
                Invert = o.Invert;
                return true;
            }
            case "--ttl":
                o.NoInvert();
                Ttl = (byte)o.UInt32(o.Arg("0, 1 or 2"), 0, 2);
                return true;
            case "--log":
                o.NoInvert();
                LogLevel = (byte)o.UInt32(o.Arg("0, 1 or 2"), 0, 2);
                return true;
            default:
                return false;
        }
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (Genre.Length == 0)
            throw check.Fail("needs --genre", "--genre NAME");
        check.RequireProtocol(Protocols.Tcp);
    }

    /// <summary>osf_save.</summary>
    public override void Save(SaveWriter w)
    {
        w.Opt("--genre", Genre, Invert);
        if (Ttl is { } t)
            w.Opt("--ttl", t);
        if (LogLevel is { } l)
            w.Opt("--log", l);
    }
}
