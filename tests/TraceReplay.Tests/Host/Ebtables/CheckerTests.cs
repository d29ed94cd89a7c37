using TraceReplay.Host.Ebtables;

namespace TraceReplay.Tests.Host.Ebtables;

/// <summary>
/// Load-time checks. Expected problems follow the kernel's target checkentry functions
/// (ebt_dnat_tg_check: nat PREROUTING/OUTPUT or broute; ebt_snat: nat POSTROUTING; ebt_redirect: nat
/// PREROUTING or broute; ebt_arpreply: nat PREROUTING), ebtables.c's check_chainloops, and ebtables'
/// "Use -i only in INPUT, FORWARD, PREROUTING and BROUTING chains" for chains reached from a hook.
/// </summary>
public sealed class CheckerTests
{
    private static IReadOnlyList<EbtablesProblem> Check(string text) =>
        EbtablesChecker.Check(EbtablesParser.Parse(text, "eb.rules"));

    [Fact]
    public void A_valid_ruleset_has_no_problems() => Assert.Empty(Check("""
        *filter
        :INPUT ACCEPT
        :FORWARD DROP
        :OUTPUT ACCEPT
        :fwd RETURN
        -A FORWARD -i eth0 -j fwd
        -A fwd -o eth1 -j ACCEPT
        -A fwd -j RETURN
        *nat
        :PREROUTING ACCEPT
        :OUTPUT ACCEPT
        :POSTROUTING ACCEPT
        :pre ACCEPT
        -A PREROUTING -j pre
        -A pre -j dnat --to-dst 2:0:0:0:0:1 --dnat-target ACCEPT
        -A PREROUTING -p ARP -j arpreply --arpreply-mac 2:0:0:0:0:2
        -A POSTROUTING -j snat --to-src 2:0:0:0:0:3
        *broute
        :BROUTING ACCEPT
        -A BROUTING -j redirect --redirect-target DROP
        -A BROUTING -j dnat --to-dst 2:0:0:0:0:4 --dnat-target DROP
        """));

    [Fact]
    public void Jump_to_a_missing_chain_is_reported_with_its_rule()
    {
        var p = Assert.Single(Check("*filter\n-A INPUT -j nowhere\n"));
        Assert.Equal(2, p.Location.Line);
        Assert.Contains("missing chain 'nowhere'", p.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("*filter\n-A INPUT -j dnat --to-dst 2:0:0:0:0:1", "dnat")]
    [InlineData("*filter\n-A OUTPUT -j snat --to-src 2:0:0:0:0:1", "snat")]
    [InlineData("*nat\n-A PREROUTING -j snat --to-src 2:0:0:0:0:1", "snat")]
    [InlineData("*nat\n-A POSTROUTING -j dnat --to-dst 2:0:0:0:0:1", "dnat")]
    [InlineData("*nat\n-A OUTPUT -j redirect", "redirect")]
    [InlineData("*nat\n-A OUTPUT -p ARP -j arpreply", "arpreply")]
    [InlineData("*broute\n-A BROUTING -j snat --to-src 2:0:0:0:0:1", "snat")]
    public void Targets_outside_their_hooks_are_reported(string text, string target)
    {
        var p = Assert.Single(Check(text + "\n"));
        Assert.Contains("target " + target, p.Message, StringComparison.Ordinal);
        Assert.Equal(2, p.Location.Line);
    }

    [Fact]
    public void A_user_chain_is_checked_against_every_hook_that_reaches_it()
    {
        var problems = Check("""
            *nat
            :u ACCEPT
            -A PREROUTING -j u
            -A POSTROUTING -j u
            -A u -j dnat --to-dst 2:0:0:0:0:1
            -A u -i eth0 -j ACCEPT
            """);
        Assert.Equal(2, problems.Count);
        Assert.Contains("reached from POSTROUTING", problems[0].Message, StringComparison.Ordinal);
        Assert.Contains("no input device", problems[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Chain_loops_and_base_chain_returns_are_reported()
    {
        var problems = Check("""
            *filter
            :a ACCEPT
            :b ACCEPT
            -A INPUT -j a
            -A a -j b
            -A b -j a
            -A OUTPUT -j RETURN
            -A FORWARD -j INPUT
            """);
        Assert.Contains(problems, p => p.Message.Contains("loop", StringComparison.Ordinal) && p.Location.Line == 6);
        Assert.Contains(problems, p => p.Message.Contains("RETURN in built-in chain OUTPUT", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Message.Contains("built-in chain 'INPUT'", StringComparison.Ordinal));
    }
}
