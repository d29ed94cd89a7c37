using TraceReplay.KernelTests.Framework;

namespace TraceReplay.KernelTests.Scenarios;

/// <summary>
/// Scenario 1 of issue 6, a Docker host with two bridge networks, written as dockerd writes its rules
/// with the userland proxy off (hairpin mode: the published port's DNAT has no `! -i docker0`, the nat
/// DOCKER chain no `-i docker0 -j RETURN`, the container's bridge port has hairpin on, and the
/// container reaching itself through the published port is MASQUERADEd by the `-s 172.17.0.2
/// -d 172.17.0.2 --dport 80` rule):
/// <code>
///   c1 172.17.0.2 --veth1 (hairpin)--+ docker0 172.17.0.1
///   c2 172.17.0.3 --veth2------------+            [h]  eth0 198.51.100.1 --- wan 198.51.100.2 (and 203.0.113.9 on lo)
///   c3 172.18.0.2 --veth3------------- br-net2 172.18.0.1
/// </code>
/// br_netfilter on (bridge-nf-call-iptables=1). Port 8080 is published to c1:80; DOCKER-USER drops new
/// connections from outside 198.51.100.0/24; DOCKER-ISOLATION-STAGE-1/2 drop traffic between the two
/// networks. The bridges have Docker's 02:42 addresses, so a frame for the host is PACKET_OTHERHOST
/// on the port, as on a real Docker host.
/// </summary>
public static class DockerHostScenario
{
    public const string Rules = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        :DOCKER - [0:0]
        -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
        -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
        -A POSTROUTING -s 172.18.0.0/16 ! -o br-net2 -j MASQUERADE
        -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
        -A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
        -A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
        COMMIT
        *filter
        :INPUT DROP [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        :DOCKER - [0:0]
        :DOCKER-ISOLATION-STAGE-1 - [0:0]
        :DOCKER-ISOLATION-STAGE-2 - [0:0]
        :DOCKER-USER - [0:0]
        -A INPUT -i lo -j ACCEPT
        -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
        -A FORWARD -j DOCKER-USER
        -A FORWARD -j DOCKER-ISOLATION-STAGE-1
        -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -o docker0 -j DOCKER
        -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
        -A FORWARD -i docker0 -o docker0 -j ACCEPT
        -A FORWARD -o br-net2 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A FORWARD -o br-net2 -j DOCKER
        -A FORWARD -i br-net2 ! -o br-net2 -j ACCEPT
        -A FORWARD -i br-net2 -o br-net2 -j ACCEPT
        -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
        -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
        -A DOCKER-ISOLATION-STAGE-1 -i br-net2 ! -o br-net2 -j DOCKER-ISOLATION-STAGE-2
        -A DOCKER-ISOLATION-STAGE-1 -j RETURN
        -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
        -A DOCKER-ISOLATION-STAGE-2 -o br-net2 -j DROP
        -A DOCKER-ISOLATION-STAGE-2 -j RETURN
        -A DOCKER-USER -i eth0 ! -s 198.51.100.0/24 -m conntrack --ctstate NEW -j DROP
        -A DOCKER-USER -j RETURN
        COMMIT

        """;

    public static void Record(KernelLab lab, string dir)
    {
        foreach (var n in (string[])["h", "c1", "c2", "c3", "wan"])
            lab.AddNamespace(n);
        lab.Veth("h", "veth1", "c1", "eth0");
        lab.Veth("h", "veth2", "c2", "eth0");
        lab.Veth("h", "veth3", "c3", "eth0");
        lab.Veth("h", "eth0", "wan", "eth0");
        lab.Exec("h", """
            ip link add docker0 type bridge && ip link set docker0 address 02:42:ac:11:00:01
            ip link add br-net2 type bridge && ip link set br-net2 address 02:42:ac:12:00:01
            ip addr add 172.17.0.1/16 dev docker0 && ip addr add 172.18.0.1/16 dev br-net2
            ip link set veth1 master docker0 && ip link set veth2 master docker0 && ip link set veth3 master br-net2
            ip link set veth1 type bridge_slave hairpin on
            for i in docker0 br-net2 veth1 veth2 veth3; do ip link set $i up; done
            ip addr add 198.51.100.1/24 dev eth0 && ip link set eth0 up && ip route add default via 198.51.100.2
            sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
            """);
        lab.Exec("c1", "ip link set eth0 address 02:42:ac:11:00:02 && ip addr add 172.17.0.2/16 dev eth0 && ip link set eth0 up && ip route add default via 172.17.0.1");
        lab.Exec("c2", "ip link set eth0 address 02:42:ac:11:00:03 && ip addr add 172.17.0.3/16 dev eth0 && ip link set eth0 up && ip route add default via 172.17.0.1");
        lab.Exec("c3", "ip link set eth0 address 02:42:ac:12:00:02 && ip addr add 172.18.0.2/16 dev eth0 && ip link set eth0 up && ip route add default via 172.18.0.1");
        lab.Exec("wan", "ip addr add 198.51.100.2/24 dev eth0 && ip addr add 203.0.113.9/32 dev lo && ip link set eth0 up");
        lab.Restore("h", "iptables-restore", Rules);

        lab.Start("wan", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\nremote\n' | nc -l -p 80 -q 1 >/dev/null; done""");
        lab.Start("c1", """while true; do printf 'HTTP/1.0 200 OK\r\n\r\nc1\n' | nc -l -p 80 -q 1 >/dev/null; done""");
        Thread.Sleep(300);

        var rec = new ScenarioRecorder(lab, "h", dir);
        rec.Start();
        const string get = """printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 -q 1""";
        // Out through MASQUERADE (both networks), the published port from the allowed subnet (DNAT),
        // from outside it (DOCKER-USER DROP, the SYN retried once within the 2 s), hairpin NAT (c1 to
        // itself through the host's public address, MASQUERADEd to 172.17.0.1), c2 to the published port
        // (DNAT bridged back to c1 without SNAT), c2 to c1 on the bridge, and the two networks isolated
        // both ways.
        lab.Exec("c1", "ping -c 2 -i 0.2 -W 1 203.0.113.9 >/dev/null");
        lab.Exec("c1", get + " 203.0.113.9 80 >/dev/null");
        lab.Exec("c3", "ping -c 2 -i 0.2 -W 1 203.0.113.9 >/dev/null");
        lab.Exec("wan", get + " 198.51.100.1 8080 >/dev/null");
        lab.Try("wan", get + " -s 203.0.113.9 198.51.100.1 8080 >/dev/null");
        lab.Exec("c1", get + " 198.51.100.1 8080 >/dev/null");
        lab.Exec("c2", get + " 198.51.100.1 8080 >/dev/null");
        lab.Exec("c2", "ping -c 2 -i 0.2 -W 1 172.17.0.2 >/dev/null");
        lab.Try("c3", "ping -c 1 -W 1 172.17.0.2");
        lab.Try("c1", "nc -z -w 2 172.18.0.2 22");
        rec.Finish();
    }
}
