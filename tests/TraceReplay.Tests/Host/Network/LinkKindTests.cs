using TraceReplay.Host.Network;

namespace TraceReplay.Tests.Host.Network;

/// <summary>
/// Device kinds the test machine's kernel cannot create (no 8021q/dummy/bonding modules), in the shape
/// iproute2 6.1 prints them (ip/iplink_vlan.c vlan_print_opt: "protocol", "id", "flags"; print_linkinfo:
/// info_kind / info_slave_kind).
/// </summary>
public sealed class LinkKindTests
{
    private const string Json = """
        [{"ifindex":7,"link":"eth0","ifname":"eth0.100","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"br0","operstate":"UP","group":"7","link_type":"ether","address":"52:54:00:12:34:56","broadcast":"ff:ff:ff:ff:ff:ff","linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1Q","id":100,"flags":["REORDER_HDR"]},"info_slave_kind":"bridge","info_slave_data":{"state":"forwarding"}}},
         {"ifindex":8,"ifname":"dummy0","flags":["BROADCAST","NOARP"],"mtu":1500,"qdisc":"noop","operstate":"DOWN","group":"default","link_type":"ether","address":"aa:bb:cc:dd:ee:ff","broadcast":"ff:ff:ff:ff:ff:ff","linkinfo":{"info_kind":"dummy"}},
         {"ifindex":9,"ifname":"bond0","flags":["BROADCAST","MULTICAST","MASTER","UP"],"mtu":1500,"operstate":"UP","group":"uplinks","link_type":"ether","address":"aa:bb:cc:dd:ee:01","linkinfo":{"info_kind":"bond","info_data":{"mode":"802.3ad"}}},
         {"ifindex":10,"ifname":"eth3","flags":["BROADCAST","MULTICAST","SLAVE","UP"],"mtu":1500,"master":"bond0","operstate":"UP","group":"default","link_type":"ether","address":"aa:bb:cc:dd:ee:01","linkinfo":{"info_slave_kind":"bond"}},
         {"ifindex":11,"ifname":"wg0","flags":["POINTOPOINT","NOARP","UP","LOWER_UP"],"mtu":1420,"operstate":"UNKNOWN","group":"default","link_type":"none","linkinfo":{"info_kind":"wireguard"}},
         {"ifindex":12,"ifname":"br0","flags":["BROADCAST","MULTICAST","UP"],"mtu":1500,"operstate":"UP","group":"default","link_type":"ether","address":"52:54:00:12:34:56","linkinfo":{"info_kind":"bridge"}}]
        """;

    [Fact]
    public void Vlan_bond_dummy_and_groups_from_json()
    {
        var c = new NetworkConfig(DeviceParser.ParseJson(Json, "link.json"), [], []);
        var vlan = c.Device("eth0.100")!;
        Assert.Equal(("vlan", 100, "eth0"), (vlan.Kind, vlan.VlanId!.Value, vlan.Link));
        Assert.Equal(7u, vlan.Group);
        Assert.Equal("br0", c.BridgeOf("eth0.100")!.Name);
        Assert.Equal("dummy", c.Device("dummy0")!.Kind);
        Assert.False(c.Device("dummy0")!.IsUp);
        Assert.Equal("bond", c.Device("bond0")!.Kind);
        Assert.Null(c.Device("bond0")!.Group); // a name from /etc/iproute2/group: the number is unknown
        Assert.Equal("uplinks", c.Device("bond0")!.GroupName);
        Assert.Null(c.BridgeOf("eth3")); // its master is a bond, not a bridge
        Assert.Null(c.Device("wg0")!.Mac);
    }

    [Fact]
    public void Vlan_from_detailed_text()
    {
        const string text = """
            7: eth0.100@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP mode DEFAULT group default qlen 1000
                link/ether 52:54:00:12:34:56 brd ff:ff:ff:ff:ff:ff promiscuity 1 allmulti 1 minmtu 0 maxmtu 65535
                vlan protocol 802.1Q id 100 <REORDER_HDR>
                bridge_slave state forwarding priority 32 cost 4
            """;
        var d = DeviceParser.ParseText(text, "ip-link.txt").Single();
        Assert.Equal(("vlan", 100, "eth0", "br0", "bridge"), (d.Kind, d.VlanId!.Value, d.Link, d.Master, d.SlaveKind));
    }
}
