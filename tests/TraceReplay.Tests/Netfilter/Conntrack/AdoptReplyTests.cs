using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Tests.Netfilter.Conntrack;

/// <summary>
/// NfConntrackTable.AdoptReply: a confirmed entry's reply tuple moved to the port the capture showed
/// (not a kernel operation: the kernel's random SNAT port on a clash, taken from the capture). The entry
/// must then be found by its new reply tuple and not by the old one, and a tuple another entry holds is
/// refused, as nf_nat_used_tuple would have refused it.
/// </summary>
public sealed class AdoptReplyTests
{
    private static readonly IpAddr Lan = IpAddr.FromV4(0xC0A8010B), Server = IpAddr.FromV4(0xC6336407), Wan = IpAddr.FromV4(0xCB007101);
    private const long Now = 1_000_000_000;

    private static ConntrackListEntry Snat(ushort lanPort, ushort natPort)
    {
        var orig = new NfConntrackTuple(Lan, Server, lanPort, 80, 6, false);
        var reply = new NfConntrackTuple(Server, Wan, 80, natPort, 6, false);
        return new ConntrackListEntry { Orig = orig, Reply = reply, SecondsLeft = 100, TcpState = TcpConntrack.Established, Status = CtStatus.SrcNat | CtStatus.SeenReply };
    }

    private static NfConntrackTable Table(params ConntrackListEntry[] entries)
    {
        var t = new NfConntrackTable(new NfConntrackSettings());
        t.LoadInitial(entries);
        t.Start(Now);
        return t;
    }

    [Fact]
    public void The_entry_is_found_by_its_new_reply_tuple_and_no_longer_by_the_old()
    {
        var t = Table(Snat(40000, 52429));
        int entry = Assert.Single(t.ConfirmedEntries());
        var moved = t[entry].Reply with { DstPort = 59616 };
        var old = t[entry].Reply;
        Assert.True(t.AdoptReply(entry, moved, Now + 1));
        Assert.Equal(moved, t[entry].Reply);
        Assert.True(t.TupleTaken(moved, 0, -1, Now + 1));
        Assert.False(t.TupleTaken(old, 0, -1, Now + 1));
        Assert.True(t.TupleTaken(t[entry].Orig, 0, -1, Now + 1)); // the original direction is untouched
    }

    [Fact]
    public void A_reply_tuple_another_entry_holds_is_refused_and_nothing_changes()
    {
        var t = Table(Snat(40000, 40000), Snat(40001, 52429));
        int second = t.ConfirmedEntries().Single(e => t[e].Orig.SrcPort == 40001);
        var before = t[second].Reply;
        Assert.False(t.AdoptReply(second, before with { DstPort = 40000 }, Now + 1));
        Assert.Equal(before, t[second].Reply);
        Assert.True(t.TupleTaken(before, 0, -1, Now + 1));
    }

    [Fact]
    public void An_entry_in_the_middle_of_a_hash_chain_is_relinked_and_its_neighbours_still_found()
    {
        // One bucket: every node on one chain, so the moved reply node sits between others.
        var t = new NfConntrackTable(new NfConntrackSettings { Buckets = 1 });
        t.LoadInitial([Snat(40000, 40000), Snat(40001, 40001), Snat(40002, 40002)]);
        t.Start(Now);
        int middle = t.ConfirmedEntries().Single(e => t[e].Orig.SrcPort == 40001);
        var old = t[middle].Reply;
        Assert.True(t.AdoptReply(middle, old with { DstPort = 61000 }, Now + 1));
        foreach (int e in t.ConfirmedEntries())
        {
            Assert.True(t.TupleTaken(t[e].Orig, 0, -1, Now + 1));
            Assert.True(t.TupleTaken(t[e].Reply, 0, -1, Now + 1));
        }
        Assert.False(t.TupleTaken(old, 0, -1, Now + 1));
    }

    [Fact]
    public void A_slot_that_no_longer_holds_a_connection_is_refused_without_throwing()
    {
        var t = Table(Snat(40000, 52429));
        int entry = Assert.Single(t.ConfirmedEntries());
        Assert.False(t.IsLive(entry + 1));
        Assert.False(t.AdoptReply(entry + 1, t[entry].Reply with { DstPort = 1 }, Now + 1));
        Assert.False(t.AdoptReply(-1, t[entry].Reply, Now + 1));
        Assert.True(t.IsLive(entry));
    }
}
