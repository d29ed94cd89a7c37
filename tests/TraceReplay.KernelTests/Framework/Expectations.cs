namespace TraceReplay.KernelTests.Framework;

/// <summary>Each scenario's known differences, shared by the live kernel suite and the replay of its saved dataset.</summary>
public static class Expectations
{
    // Known difference A (REJECT's RST through nat POSTROUTING) is gone: the simulation now makes REJECT's
    // reply itself and attaches the rejected packet's conntrack entry to it (nf_ct_attach), so the RST
    // meets nat POSTROUTING with SRC not initialised and MASQUERADE -o wan0 counts it, as in the kernel.

    public static ScenarioExpectation HomeRouter { get; } = new("home-router", []);

    /// <summary>
    /// nf_nat_core.c get_unique_tuple: the second connection from 192.168.1.11:40000 clashes with the
    /// first's 203.0.113.1:40000, and the kernel searches another port (nf_nat_l4proto_unique_tuple: for
    /// SNAT from get_random_u16()). The simulation lands on its own free port, but the capture shows the
    /// kernel's as the packet leaves wan0, and the replay takes it into the connection
    /// (NfHost.AdoptNatSourcePort): the replies to the kernel's port find their connection, so every
    /// counter and the conntrack listing equal the kernel's. Only that first packet's own row keeps the
    /// simulation's port (fidelity: nat_port_differs).
    /// </summary>
    public static ScenarioExpectation HomeRouterPortClash { get; } = new("home-router-port-clash", []);

    /// <summary>
    /// kube-proxy's endpoints are chosen by `-m statistic --mode random` (xt_statistic.c: get_random_u32
    /// per packet that reaches the rule): the kernel's draws are not in the snapshot. The replay searches
    /// the seed whose choices give the kernel's conntrack table (ScenarioReplay.RunMatchingRandom); then
    /// every counter is compared. Should no seed reproduce them, only the chains below the split may
    /// differ: the statistic rule and the fall-through of KUBE-SVC-WEB, and the KUBE-SEP-* chains.
    /// </summary>
    public static ScenarioExpectation KubernetesNode { get; } = new("kubernetes-node",
    [
        new("nat:KUBE-SVC-WEB:rule:[23]", "statistic --mode random: the kernel's endpoint choice is not in the snapshot", Pattern: true),
        new("nat:KUBE-SEP-POD[12]:rule:[12]", "statistic --mode random: the kernel's endpoint choice is not in the snapshot", Pattern: true),
    ]) { Random = true };

    public static ScenarioExpectation Ipv6Host { get; } = new("ipv6-host", []);

    public static ScenarioExpectation RawZone { get; } = new("raw-zone", []);

    public static ScenarioExpectation L2Bridge { get; } = new("l2-bridge", []);

    public static ScenarioExpectation DockerHostLive { get; } = new("docker-host-live", []);

    public static ScenarioExpectation TableFull { get; } = new("table-full", []);

    public static ScenarioExpectation For(string scenario) => scenario switch
    {
        "l2-bridge" => L2Bridge,
        "docker-host-live" => DockerHostLive,
        "table-full" => TableFull,
        "home-router" => HomeRouter,
        "home-router-port-clash" => HomeRouterPortClash,
        "kubernetes-node" => KubernetesNode,
        "ipv6-host" => Ipv6Host,
        "raw-zone" => RawZone,
        _ => throw new ArgumentException("no such scenario: " + scenario, nameof(scenario)),
    };
}
