using TraceReplay.Host.Iptables;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Tests.Host.Iptables;

/// <summary>
/// The typed readers a match and a target share (XtOption.TosMask for libxt_tos/libxt_TOS,
/// XtOption.DscpClass for libxt_dscp/libxt_DSCP, as libxtables' xtopt_parse_tosmask and
/// dscp_helper.c serve both): the same bad argument gets the same refusal from either, located at
/// the argument, naming the bad part as the token.
/// </summary>
public sealed class XtOptionReaderTests
{
    private static HostParseException Bad(string spec)
    {
        string chain = spec.Contains("-j ", StringComparison.Ordinal) ? "PREROUTING" : "INPUT";
        string table = chain == "PREROUTING" ? "mangle" : "filter";
        return Assert.Throws<HostParseException>(() =>
            IptablesParser.Parse($"*{table}\n:{chain} ACCEPT [0:0]\n-A {chain} {spec}\nCOMMIT\n", "t.rules", IptFamily.IPv4));
    }

    [Theory]
    [InlineData("-m tos --tos 0x1/0x100", "-j TOS --set-tos 0x1/0x100", "0x100", "bad TOS mask")]
    [InlineData("-m tos --tos 0x100", "-j TOS --set-tos 0x100", "0x100", "TOS value out of range")]
    [InlineData("-m tos --tos Fast-Please", "-j TOS --set-tos Fast-Please", "Fast-Please", "not a TOS value or name")]
    [InlineData("-m dscp --dscp-class AF44", "-j DSCP --set-dscp-class AF44", "AF44", "invalid DSCP class value")]
    public void Match_and_target_refuse_alike(string match, string target, string token, string problem)
    {
        foreach (string spec in new[] { match, target })
        {
            var e = Bad(spec);
            string chain = spec == target ? "PREROUTING" : "INPUT";
            // "-A CHAIN " then the rule; the argument is the last word.
            Assert.Equal(new SourceLocation("t.rules", 3, 4 + chain.Length + spec.LastIndexOf(' ') + 2), e.Location);
            Assert.Equal(token, e.Token);
            Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        }
    }
}
