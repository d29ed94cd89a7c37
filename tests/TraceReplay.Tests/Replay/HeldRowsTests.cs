using DuckDB.NET.Data;
using TraceReplay.Replay.Pipeline;
using TraceReplay.Store;

namespace TraceReplay.Tests.Replay;

/// <summary>
/// RunDatabaseSink.HeldRows: rows wait from the first one awaiting its fidelity outcome, leave in
/// the order added once nothing before them awaits, and an outcome lands in the row it names —
/// captured sightings numbered 1, 2, … and the host's own packets -1, -2, … (ReplayJob), decided
/// in any order.
/// </summary>
public sealed class HeldRowsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tracereplay-held-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<(long Id, string? Observed)> Read(string path)
    {
        using var db = new DuckDBConnection($"Data Source={path};ACCESS_MODE=READ_ONLY");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT id, observed FROM packets";
        using var r = cmd.ExecuteReader();
        var rows = new List<(long, string?)>();
        while (r.Read())
            rows.Add((r.GetInt64(0), r.IsDBNull(1) ? null : r.GetString(1)));
        return rows;
    }

    private int _eth0;

    private PacketRecord Row(long id, int observed = 0) => new() { Id = id, PacketId = Math.Abs(id), CapturePoint = _eth0, VerdictRuleId = -1, CtId = -1, Observed = observed };

    [Fact]
    public void Rows_leave_in_order_once_decided_with_the_outcome_they_were_given()
    {
        string path = Path.Combine(_dir, "run.duckdb");
        using (var w = RunWriter.Create(path, new RunWriterOptions { WriterThread = false }))
        {
            _eth0 = w.TextHandle("eth0");
            int explained = w.TextHandle("explained"), unseen = w.TextHandle("predicted_unseen"), other = w.TextHandle("other_interface");
            var held = new RunDatabaseSink.HeldRows(w);
            held.Add(Row(1, other), awaits: false); // nothing waits: straight through
            Assert.Equal(0, held.Count);
            held.Add(Row(2), awaits: true);
            held.Add(Row(3, other), awaits: false);
            held.Add(Row(-1), awaits: true);
            held.Add(Row(4), awaits: true);
            held.Add(Row(5), awaits: false);
            Assert.Equal(5, held.Count);

            held.Decide(4, unseen); // behind 2: everything stays
            Assert.Equal(5, held.Count);
            held.Decide(99, explained); // no such row: ignored
            held.Decide(2, explained); // 2 and 3 leave; -1 still awaits
            Assert.Equal(3, held.Count);
            held.Decide(2, unseen); // already decided and gone: ignored
            held.Decide(-1, other); // -1, then 4 (decided earlier) and 5
            Assert.Equal(0, held.Count);

            held.Add(Row(6), awaits: true);
            held.Add(Row(-2), awaits: true);
            held.Decide(-2, explained);
            held.Decide(-2, unseen); // a second outcome does not replace the first
            Assert.Equal(2, held.Count);
            held.Flush(); // the end: undecided 6 keeps what it had (NULL), -2 its outcome
            Assert.Equal(0, held.Count);
            w.Complete();
        }
        Assert.Equal(
            [(1, "other_interface"), (2, "explained"), (3, "other_interface"), (-1, "other_interface"), (4, "predicted_unseen"), (5, null), (6, null), (-2, "explained")],
            Read(path));
    }

    [Fact]
    public void Many_rows_waiting_behind_one_keep_their_order_and_outcomes()
    {
        // More rows than the ring and index start with (1024, 256), decided newest first behind a
        // first row decided last: the ring grows and every lookup is a search.
        const int n = 5000;
        string path = Path.Combine(_dir, "many.duckdb");
        using (var w = RunWriter.Create(path, new RunWriterOptions { BatchRows = 333, WriterThread = true }))
        {
            _eth0 = w.TextHandle("eth0");
            int even = w.TextHandle("explained"), odd = w.TextHandle("not_applicable");
            var held = new RunDatabaseSink.HeldRows(w);
            for (int i = 1; i <= n; i++)
                held.Add(Row(i), awaits: i % 3 != 0);
            for (int i = n; i >= 2; i--)
                held.Decide(i, i % 2 == 0 ? even : odd);
            Assert.Equal(n, held.Count);
            held.Decide(1, odd);
            Assert.Equal(0, held.Count);
            w.Complete();
        }
        var rows = Read(path);
        Assert.Equal(Enumerable.Range(1, n).Select(i => (long)i), rows.Select(r => r.Id));
        Assert.Equal(Enumerable.Range(1, n).Select(i => i % 3 == 0 ? null : i % 2 == 0 ? "explained" : "not_applicable"), rows.Select(r => r.Observed));
    }
}
