using TraceReplay.Host.Iptables.Extensions.Matches;
using TraceReplay.Netfilter.Tables;

namespace TraceReplay.Netfilter.Xt.Matches;

/// <summary>
/// `-m string --string/--hex-string` (net/netfilter/xt_string.c string_mt, skb_find_text): the
/// pattern found wholly inside bytes [from, to) of the skb data, which at the IP hooks starts at the
/// IP header; --icase folds ASCII case. bm and kmp find the same matches in a linear buffer. If the
/// capture is cut before the window ends and the captured part has no match, the answer is unknown.
/// </summary>
public sealed class StringMt : XtMatchEvaluator<StringMatch>
{
    private readonly byte[] _pattern;

    public StringMt(StringMatch m, XtCompileContext c)
    {
        Module = m;
        Context = c;
        _pattern = m.Pattern.ToArray();
        if (m.IgnoreCase)
            Fold(_pattern);
    }

    public StringMatch Module { get; }
    public XtCompileContext Context { get; }

    private static void Fold(Span<byte> b)
    {
        for (int i = 0; i < b.Length; i++)
        {
            if (b[i] is >= (byte)'A' and <= (byte)'Z')
                b[i] += 32;
        }
    }

    public override Tristate Match(ref XtActionParam p)
    {
        ref var d = ref p.Packet;
        int l3 = d.L3Offset;
        int end = Math.Min(Module.To, d.IpTotalLength); // skb_seq_read stops at min(to, skb->len)
        int from = Module.From;
        bool found = false;
        int captured = Math.Min(end, p.Frame.Length - l3);
        if (from < captured && _pattern.Length > 0)
        {
            var window = p.Frame.Slice(l3 + from, captured - from);
            found = Module.IgnoreCase ? IndexOfFolded(window, _pattern) >= 0 : window.IndexOf(_pattern) >= 0;
        }
        if (!found && captured < end)
            return Tristate.Unknown;
        return found != Module.Invert ? Tristate.True : Tristate.False;
    }

    private static int IndexOfFolded(ReadOnlySpan<byte> text, ReadOnlySpan<byte> pattern)
    {
        for (int i = 0; i + pattern.Length <= text.Length; i++)
        {
            int k = 0;
            while (k < pattern.Length)
            {
                byte c = text[i + k];
                if (c is >= (byte)'A' and <= (byte)'Z')
                    c += 32;
                if (c != pattern[k])
                    break;
                k++;
            }
            if (k == pattern.Length)
                return i;
        }
        return -1;
    }
}
