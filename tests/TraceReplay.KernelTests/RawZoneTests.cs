using TraceReplay.KernelTests.Framework;
using TraceReplay.KernelTests.Scenarios;

namespace TraceReplay.KernelTests;

/// <summary>The raw-table scenario (NOTRACK, CT --zone) recorded live and replayed, and the conntrack-table-full case.</summary>
public sealed class RawZoneTests(ITestOutputHelper output)
{
    [Fact]
    public void Notrack_and_zones_replay_equals_the_kernel()
    {
        KernelEnvironment.Require();
        using var place = new ScenarioOutput("raw-zone");
        using (var lab = new KernelLab("raw"))
            RawZoneScenario.Record(lab, place.Directory);
        var report = Expectations.RawZone.Replay(place.Directory);
        output.WriteLine(report.Format());
        Expectations.RawZone.Check(report);
    }

    /// <summary>
    /// A full table needs a small nf_conntrack_max in the scenario's namespace. nf_conntrack_standalone.c
    /// (nf_conntrack_standalone_init_sysctl) makes the sysctl mode 0444 outside the initial namespace, so
    /// writing it fails (EINVAL; procps sysctl still exits 0, hence the read-back), and lowering it for
    /// the whole machine would starve every other user: the case runs only on a kernel that lets a
    /// namespace set its own.
    /// </summary>
    [Fact]
    public void Table_full_needs_a_per_namespace_nf_conntrack_max()
    {
        KernelEnvironment.Require();
        using var lab = new KernelLab("full");
        lab.AddNamespace("h");
        lab.Restore("h", "iptables-restore", "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m conntrack --ctstate NEW\nCOMMIT\n");
        if (lab.Try("h", "sysctl -qw net.netfilter.nf_conntrack_max=16 2>/dev/null; test \"$(cat /proc/sys/net/netfilter/nf_conntrack_max)\" = 16") != 0)
            Assert.Skip("net.netfilter.nf_conntrack_max is read-only in a non-initial network namespace on this kernel " + Environment.OSVersion.Version
                + " (only the initial namespace may set it); the table-full case would have to lower it for the whole machine");
        Assert.Skip("nf_conntrack_max can be set per namespace on this kernel: the table-full recording is still to be written");
    }
}
