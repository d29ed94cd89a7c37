using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Tests.Netfilter.Conntrack;

/// <summary>
/// NfConntrackTable.Started: the snapshot's starting entries as they went live, which the run database
/// keeps in conntrack_start. Only the entries that hold a slot once the table is live count: a table at
/// nf_conntrack_max makes room by early_drop (unassured entries, oldest of a bucket first) and can take
/// back entries the same load inserted.
/// </summary>
public sealed class StartingTableTests
{
    private static ConntrackListEntry Udp(int i)
    {
        var orig = new NfConntrackTuple(IpAddr.FromV4(0x0A000000u + (uint)i), IpAddr.FromV4(0x08080808), (ushort)(1000 + i), 53, 17, false);
        return new ConntrackListEntry { Orig = orig, Reply = orig.Invert(), SecondsLeft = 100 + i, Mark = (uint)i, Status = CtStatus.None };
    }

    [Fact]
    public void Every_entry_of_a_table_with_room_goes_live_as_loaded()
    {
        var table = new NfConntrackTable(new NfConntrackSettings());
        table.LoadInitial([.. Enumerable.Range(0, 10).Select(Udp)]);
        table.Start(1_000_000_000);
        Assert.Equal(10, table.Started.Count);
        Assert.All(table.Started, s =>
        {
            Assert.Equal(1_000_000_000, s.AtNs);
            Assert.Equal(s.Mark + 100, (uint)s.SecondsLeft); // Udp(i): mark i, i + 100 s left
            Assert.Equal(s.Orig, table[s.Entry].Orig);
        });
    }

    [Fact]
    public void A_full_table_lists_only_the_entries_that_kept_their_slot()
    {
        // Room for 4: loading 40 unreplied UDP entries early-drops earlier ones to insert later ones.
        var table = new NfConntrackTable(new NfConntrackSettings { Max = 4, Buckets = 2 });
        table.LoadInitial([.. Enumerable.Range(0, 40).Select(Udp)]);
        table.Start(1_000_000_000);
        var live = table.ConfirmedEntries().ToList();
        Assert.Equal(live.Count, table.Started.Count);
        Assert.Equal(live.Order(), table.Started.Select(s => s.Entry).Order());
        Assert.All(table.Started, s =>
        {
            ref var c = ref table[s.Entry];
            Assert.Equal((s.Orig, s.Mark), (c.Orig, c.Mark));
        });
    }
}
