namespace TraceReplay.Host.Iptables.Extensions.Targets;

/// <summary>
/// What REJECT answers with: `enum ipt_reject_with` (net/ipv4/netfilter/ipt_REJECT.c) and
/// `enum ip6t_reject_with` (ip6t_REJECT.c), one enum so the evaluator needs no family switch.
/// </summary>
public enum RejectWith : byte
{
    IcmpNetUnreachable,
    IcmpHostUnreachable,
    IcmpProtoUnreachable,
    IcmpPortUnreachable,
    IcmpNetProhibited,
    IcmpHostProhibited,
    IcmpAdminProhibited,

    /// <summary>IPT_TCP_RESET / IP6T_TCP_RESET: a RST from the rejecting host (nf_send_reset / nf_send_reset6).</summary>
    TcpReset,
    Icmp6NoRoute,
    Icmp6AdmProhibited,
    Icmp6AddrUnreachable,
    Icmp6PortUnreachable,
    Icmp6PolicyFail,
    Icmp6RejectRoute,
}

/// <summary>
/// `-j REJECT [--reject-with TYPE]` (extensions/libipt_REJECT.c, libip6t_REJECT.c; kernel
/// ipt_REJECT.c / ip6t_REJECT.c reject_tg_check). TYPE may be abbreviated and matches names and
/// aliases case-insensitively, first in table order winning, as the strncasecmp loop does. The kernel
/// takes it only from INPUT, FORWARD and OUTPUT, and `tcp-reset` only with `-p tcp`.
/// </summary>
[XtTarget("REJECT", Family = IptFamily.IPv4)]
[XtTarget("REJECT", Family = IptFamily.IPv6)]
public sealed class RejectTarget : XtTarget
{
    private static readonly (string Name, string Alias, RejectWith With)[] V4Table =
    [
        ("icmp-net-unreachable", "net-unreach", RejectWith.IcmpNetUnreachable),
        ("icmp-host-unreachable", "host-unreach", RejectWith.IcmpHostUnreachable),
        ("icmp-proto-unreachable", "proto-unreach", RejectWith.IcmpProtoUnreachable),
        ("icmp-port-unreachable", "port-unreach", RejectWith.IcmpPortUnreachable),
        ("icmp-net-prohibited", "net-prohib", RejectWith.IcmpNetProhibited),
        ("icmp-host-prohibited", "host-prohib", RejectWith.IcmpHostProhibited),
        ("tcp-reset", "tcp-rst", RejectWith.TcpReset),
        ("icmp-admin-prohibited", "admin-prohib", RejectWith.IcmpAdminProhibited),
    ];

    private static readonly (string Name, string Alias, RejectWith With)[] V6Table =
    [
        ("icmp6-no-route", "no-route", RejectWith.Icmp6NoRoute),
        ("icmp6-adm-prohibited", "adm-prohibited", RejectWith.Icmp6AdmProhibited),
        ("icmp6-addr-unreachable", "addr-unreach", RejectWith.Icmp6AddrUnreachable),
        ("icmp6-port-unreachable", "port-unreach", RejectWith.Icmp6PortUnreachable),
        ("tcp-reset", "tcp-reset", RejectWith.TcpReset),
        ("icmp6-policy-fail", "policy-fail", RejectWith.Icmp6PolicyFail),
        ("icmp6-reject-route", "reject-route", RejectWith.Icmp6RejectRoute),
    ];

    private XtOptionSet _seen;
    private bool _defaulted = true;

    /// <summary>The answer; REJECT_init's default is port unreachable for either family.</summary>
    public RejectWith With { get; private set; } = RejectWith.IcmpPortUnreachable;

    public override bool IsTerminating => true;

    public override IReadOnlyCollection<string>? Hooks => XtChains.InputForwardOutput;

    protected internal override bool Parse(XtOption o)
    {
        if (o.Name != "--reject-with")
            return false;
        _seen.TakeNoInvert(o, 1);
        string arg = o.Arg("a reject type such as icmp-port-unreachable or tcp-reset");
        var table = o.Family == IptFamily.IPv6 ? V6Table : V4Table;
        foreach (var (name, alias, with) in table)
        {
            if (name.StartsWith(arg, StringComparison.OrdinalIgnoreCase) || alias.StartsWith(arg, StringComparison.OrdinalIgnoreCase))
            {
                With = with;
                _defaulted = false;
                return true;
            }
        }
        throw o.Fail($"unknown reject type \"{arg}\"", arg, "one of " + string.Join(", ", table.Select(t => t.Name)));
    }

    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check)
    {
        if (_defaulted && rule.Family == IptFamily.IPv6)
            With = RejectWith.Icmp6PortUnreachable;
        // reject_tg_check / reject_tg6_check: a RST can only answer TCP.
        if (With == RejectWith.TcpReset && (rule.Header.Protocol != Protocols.Tcp || rule.Header.InvertProtocol))
            throw check.Fail("--reject-with tcp-reset needs -p tcp (the kernel refuses it: \"TCP_RESET invalid for non-tcp\")", "-p tcp in the rule");
    }

    public override void Save(SaveWriter w)
    {
        var table = w.Family == IptFamily.IPv6 ? V6Table : V4Table;
        var with = With;
        if (w.Family == IptFamily.IPv6 && with == RejectWith.IcmpPortUnreachable)
            with = RejectWith.Icmp6PortUnreachable;
        foreach (var (name, _, v) in table)
        {
            if (v == with)
            {
                w.Opt("--reject-with", name);
                return;
            }
        }
    }
}
