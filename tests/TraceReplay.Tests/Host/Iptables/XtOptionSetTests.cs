using TraceReplay.Host.Iptables;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// The one option bookkeeping every extension uses (XtOptionSet, after libxtables'
/// xtables_option_parse): a repeat, a `.excl` clash and a refused `!` are reported at the second
/// option with its file:line:column, and a clash names the option given first as the rule wrote it.
/// </summary>
public sealed class XtOptionSetTests
{
    // "-A INPUT " is 9 characters, so the rule text starts at column 10 of line 3.
    private const int SpecColumn = 10;

    private static HostParseException Bad(string spec, string table = "filter", string chain = "INPUT") =>
        Assert.Throws<HostParseException>(() =>
            IptablesParser.Parse($"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {spec}\nCOMMIT\n", "t.rules", IptFamily.IPv4));

    [Theory]
    // libxt_ttl: the three tests share F_ANY, so the second is a clash with the first, not a repeat.
    [InlineData("-m ttl --ttl-lt 5 --ttl-gt 3", "--ttl-gt", "option --ttl-gt cannot be used together with --ttl-lt")]
    // libxt_multiport: an alias is named as written.
    [InlineData("-p tcp -m multiport --source-ports 1 --dports 2", "--dports", "option --dports cannot be used together with --source-ports")]
    // libxt_statistic: --every is .excl of --probability.
    [InlineData("-m statistic --mode random --probability 0.5 --every 2", "--every", "option --every cannot be used together with --probability")]
    [InlineData("-m mark --mark 1 --mark 2", "--mark", "option --mark can only be used once")]
    [InlineData("-m recent --set --rsource --rdest", "--rdest", "option --rdest cannot be used together with --rsource")]
    public void Second_option_is_refused_with_its_location(string spec, string token, string problem)
    {
        var e = Bad(spec);
        Assert.Equal(new SourceLocation("t.rules", 3, SpecColumn + spec.LastIndexOf(token, StringComparison.Ordinal)), e.Location);
        Assert.Equal(token, e.Token);
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        Assert.NotNull(e.Expected);
    }

    [Fact]
    public void Target_options_refuse_bang_before_anything_else()
    {
        const string spec = "-j MARK --set-mark 1 ! --set-mark 2";
        var e = Bad(spec, "mangle", "PREROUTING");
        Assert.Equal("!", e.Token);
        // "-A PREROUTING " is 14 characters: the rule text starts at column 15.
        Assert.Equal(15 + spec.LastIndexOf("--set-mark", StringComparison.Ordinal), e.Location.Column);
    }
}
