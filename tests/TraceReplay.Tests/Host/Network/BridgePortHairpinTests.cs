using TraceReplay.Host;
using TraceReplay.Netfilter.Hooks;
using TraceReplay.Tests.Support;

namespace TraceReplay.Tests.Host.Network;

/// <summary>
/// A bridge port's hairpin mode from `ip -j -d link` (linkinfo.info_slave_data.hairpin): the
/// docker-host-live recording's snapshot, where the scenario ran `ip link set veth1 type bridge_slave
/// hairpin on` (DockerHostScenario) and left veth2 and veth3 at the kernel's default, off.
/// </summary>
public sealed class BridgePortHairpinTests
{
    [Fact]
    public void Hairpin_comes_from_the_link_dump_and_reaches_the_simulated_bridge_port()
    {
        var snapshot = HostSnapshot.Load(Path.Combine(Corpus.Root, "datasets", "docker-host-live", "snapshot"));
        Assert.True(snapshot.Network.Device("veth1")!.BridgeHairpin);
        Assert.False(snapshot.Network.Device("veth2")!.BridgeHairpin);
        Assert.False(snapshot.Network.Device("docker0")!.BridgeHairpin); // the bridge itself is no port
        var host = NfHost.Create(snapshot);
        Assert.True(host.Bridges.Port("veth1")!.Hairpin);
        Assert.False(host.Bridges.Port("veth2")!.Hairpin);
        Assert.False(host.Bridges.Port("veth3")!.Hairpin);
    }
}
