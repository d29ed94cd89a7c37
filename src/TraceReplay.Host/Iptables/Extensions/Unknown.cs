namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>An option of an extension this build does not know, kept as written so it prints back unchanged.</summary>
public sealed record RawOption(string Name, bool Invert, IReadOnlyList<string> Args, IReadOnlyList<bool> Quoted);

/// <summary>
/// A match module this build does not know. It is kept with its options as written (and a warning),
/// prints back as read, and the simulator evaluates it as unknown — three-valued, never silently
/// true or false.
/// </summary>
public sealed class UnknownMatch : XtMatch
{
    public List<RawOption> Options { get; } = [];

    public override bool IsOfflineUnknowable => true;

    protected internal override bool Parse(XtOption o) => RawOptions.Take(o, Options);

    public override void Save(SaveWriter w) => RawOptions.Save(w, Options);
}

/// <summary>A target this build does not know (or a jump to a chain that does not exist), kept as written.</summary>
public sealed class UnknownTarget : XtTarget
{
    public List<RawOption> Options { get; } = [];

    /// <summary>Unknown: the simulator cannot say whether traversal would go on.</summary>
    public override bool IsTerminating => true;

    protected internal override bool Parse(XtOption o) => RawOptions.Take(o, Options);

    public override void Save(SaveWriter w) => RawOptions.Save(w, Options);
}

internal static class RawOptions
{
    /// <summary>Without the module's option table, an option's arguments are the words up to the next option.</summary>
    public static bool Take(XtOption o, List<RawOption> into)
    {
        var args = new List<string>();
        var quoted = new List<bool>();
        while (o.OptionalArg() is { } a)
        {
            args.Add(a);
            quoted.Add(o.LastQuoted);
        }
        into.Add(new RawOption(o.Name, o.Invert, args, quoted));
        return true;
    }

    public static void Save(SaveWriter w, List<RawOption> options)
    {
        foreach (var opt in options)
        {
            w.Opt(opt.Name, opt.Invert);
            for (int k = 0; k < opt.Args.Count; k++)
            {
                // Without the module we cannot know how its save hook quotes: keep the dump's quoting,
                // and quote anyway what would not read back as the same single word.
                string a = opt.Args[k];
                if (!opt.Quoted[k] && a.Length > 0 && a.IndexOfAny([' ', '\t', '"', '\\', '\'']) < 0)
                    w.Raw(" ").Raw(a);
                else
                    w.Quoted(a);
            }
        }
    }
}
