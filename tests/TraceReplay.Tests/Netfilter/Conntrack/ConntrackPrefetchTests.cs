using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using static TraceReplay.Tests.Netfilter.Conntrack.CtPackets;

namespace TraceReplay.Tests.Netfilter.Conntrack;

/// <summary>
/// NfConntrackTable.Prefetch / PrefetchEntry are cache hints with no kernel counterpart: they must
/// change no state. The expected values are those of a twin table that gets no hints, fed the same
/// packets — including the cases where a lookup changes the table (an expired entry is destroyed at
/// its next lookup, a chain shared by other flows, an ICMP error, a packet with no tuple).
/// </summary>
public class ConntrackPrefetchTests
{
    private const string A = "192.168.1.10", B = "198.51.100.7", C = "203.0.113.9";

    private static IEnumerable<(DecodedPacket Packet, long Now)> Packets()
    {
        long now = 0;
        for (int round = 0; round < 3; round++)
        {
            for (ushort port = 5000; port < 5040; port++)
            {
                yield return (Udp(A, port, B, 53), now += 1000);
                yield return (Udp(B, 53, A, port), now += 1000);
            }
            yield return (Tcp(A, 40000, C, 443, TcpFlags.Syn, 100), now += 1000);
            yield return (Tcp(C, 443, A, 40000, TcpFlags.Syn | TcpFlags.Ack, 900, 101), now += 1000);
            yield return (IcmpError(B, A, 3, 3, A, 5001, B, 53), now += 1000);
            yield return (Icmp(A, C, 8, 7), now += 1000);
            yield return (Ip(A, C, 47, 20), now += 1000);
            // Past every UDP entry's 30 s: the next round's lookups destroy them and start anew.
            now += 31 * S;
        }
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(1)] // one chain for every flow: heads of other hashes, the next-link hint
    public void Hints_ahead_of_each_packet_change_no_lookup_event_or_entry(int buckets)
    {
        var plain = Table(buckets: buckets);
        var hinted = Table(buckets: buckets);
        var packets = Packets().ToList();
        for (int i = 0; i < packets.Count; i++)
        {
            // As the loop does: the bucket of a packet some sightings on, the entry of a nearer one.
            if (i + 4 < packets.Count)
                hinted.Prefetch(packets[i + 4].Packet);
            if (i + 2 < packets.Count)
                hinted.PrefetchEntry(packets[i + 2].Packet);
            hinted.PrefetchEntry(packets[i].Packet);

            var (p, now) = packets[i];
            Assert.Equal(plain.Pass(p, now), hinted.Pass(p, now));
            Assert.Equal(plain.Events.ToArray(), hinted.Events.ToArray());
            plain.ClearEvents();
            hinted.ClearEvents();
        }
        Assert.Equal(plain.ConfirmedEntries().Order(), hinted.ConfirmedEntries().Order());
        foreach (int e in plain.ConfirmedEntries())
        {
            Assert.Equal(plain[e].Orig, hinted[e].Orig);
            Assert.Equal(plain[e].Timeout, hinted[e].Timeout);
            Assert.Equal(plain[e].Status, hinted[e].Status);
            Assert.Equal(plain[e].OrigPackets + plain[e].ReplyPackets, hinted[e].OrigPackets + hinted[e].ReplyPackets);
        }
    }
}
