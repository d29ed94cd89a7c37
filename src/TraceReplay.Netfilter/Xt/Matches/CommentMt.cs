using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>`-m comment` (net/netfilter/xt_comment.c comment_mt): always true.</summary>
public sealed class CommentMt(CommentMatch m, XtCompileContext c) : XtMatchEvaluator<CommentMatch>
{
    public CommentMatch Module { get; } = m;
    public XtCompileContext Context { get; } = c;

    public override Tristate Match(ref XtActionParam p) => Tristate.True;
}
