namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>`-m comment --comment TEXT` (extensions/libxt_comment.c; kernel xt_comment.c always matches). At most 255 characters (XT_MAX_COMMENT_LEN).</summary>
[XtMatch("comment")]
public sealed class CommentMatch : XtMatch
{
    public string Comment { get; private set; } = string.Empty;
    private bool _given;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--comment")
            return false;
        o.NoInvert();
        if (_given)
            throw new Parsing.HostParseException(o.Location, "option --comment can only be used once", o.Name, "one --comment");
        string text = o.Arg("the comment text");
        // kube-proxy's test fixtures write `--comment kubernetes service portals` unquoted; iptables-restore
        // would refuse the line, kube-proxy's own test parser reads the words as one comment. Read them
        // the same way, and say so (an error under --strict).
        var more = new List<string>();
        while (o.PeekPlainWord() is not null)
            more.Add(o.Arg("a word"));
        if (more.Count > 0)
        {
            text = text + " " + string.Join(' ', more);
            var warning = new Parsing.ParseWarning(o.Location, $"--comment with unquoted spaces read as one comment \"{text}\" (iptables-restore would refuse this line)");
            if (o.Rule.Strict)
                throw new Parsing.HostParseException(o.Location, warning.Message + " (--strict)");
            o.Rule.Warnings.Add(warning);
        }
        if (text.Length > 255)
            throw o.Fail($"comment is {text.Length} characters long", text[..20] + "…", "at most 255 characters");
        Comment = text;
        _given = true;
        return true;
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (!_given)
            throw check.Fail("needs --comment TEXT", "--comment TEXT");
    }

    public override void Save(SaveWriter w) => w.OptString("--comment", Comment);
}
