using System.Diagnostics;
using Apache.Arrow.Ipc;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Store;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `store [--rows N] [--dir DIR] [--variants LIST]` (StoreVariants: schema/setting experiments): rows/s and bytes allocated per row for the packets table, four ways:
/// Arrow builders alone (record batches built and dropped), Arrow IPC file, DuckDB by Arrow import
/// (the RunWriter default), DuckDB by DuckDB.NET's appender. Whole runs with Stopwatch rather than
/// BenchmarkDotNet: the cost that matters includes batch flushes, the file and DuckDB's checkpoint.
/// </summary>
public static class StoreRun
{
    public static int Run(string[] args)
    {
        int rows = 5_000_000;
        string dir = Path.Combine(Path.GetTempPath(), "tracereplay-store-bench");
        string? variants = null;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--rows": rows = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--dir": dir = args[i + 1]; break;
                case "--variants": variants = args[i + 1]; break;
                default: Console.Error.WriteLine("usage: store [--rows N] [--dir DIR]"); return 2;
            }
        }
        Directory.CreateDirectory(dir);
        if (variants is not null)
        {
            foreach (var v in variants.Split(','))
                StoreVariants.Run(rows, dir, v);
            return 0;
        }
        var packets = new PacketRow[4096];
        for (int i = 0; i < packets.Length; i++)
            packets[i] = Packet(i);

        // The rows as DuckDB takes them (keys, ids, ENUM codes): the cost the replay thread pays per row.
        Measure("arrow builders only", rows, () =>
        {
            var b = new TableBuffer(RunSchema.Packets, new AddressText(), 64 * 1024);
            for (int i = 0; i < rows; i++)
            {
                Mark(i);
                ref var p = ref packets[i & 4095];
                p.Id = i;
                RunWriter.AppendPacket(b, p);
                b.EndRow();
                if (b.Rows == 64 * 1024)
                {
                    b.BuildForScan().Dispose();
                    b.Clear();
                }
            }
            b.BuildForScan().Dispose();
            b.Clear();
        });
        string arrowFile = Path.Combine(dir, "packets.arrow");
        Measure("arrow IPC file", rows, () =>
        {
            var b = new TableBuffer(RunSchema.Packets, new AddressText { KeepText = true }, 64 * 1024);
            using var fs = new FileStream(arrowFile, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            using var w = new ArrowFileWriter(fs, RunSchema.Packets.Schema);
            w.WriteStart();
            for (int i = 0; i < rows; i++)
            {
                Mark(i);
                ref var p = ref packets[i & 4095];
                p.Id = i;
                RunWriter.AppendPacket(b, p);
                b.EndRow();
                if (b.Rows == 64 * 1024)
                {
                    using (var batch = b.Build())
                        w.WriteRecordBatch(batch);
                    b.Clear();
                }
            }
            using (var last = b.Build())
                w.WriteRecordBatch(last);
            w.WriteEnd();
        });
        if (File.Exists(arrowFile))
            Console.WriteLine($"  {new FileInfo(arrowFile).Length / (double)rows:F1} bytes/row on disk");
        foreach (var load in new[] { DuckDbLoad.ArrowScan, DuckDbLoad.Appender })
        {
            string db = Path.Combine(dir, $"run-{load}.duckdb");
            Measure($"duckdb ({load})", rows, () =>
            {
                using var w = RunWriter.Create(db, new RunWriterOptions { Load = load, BatchRows = int.Parse(Environment.GetEnvironmentVariable("BR") ?? "65536", System.Globalization.CultureInfo.InvariantCulture) });
                for (int i = 0; i < rows; i++)
                {
                    Mark(i);
                    ref var p = ref packets[i & 4095];
                    p.Id = i;
                    w.AddPacket(p);
                }
                w.Complete();
            });
            if (File.Exists(db))
                Console.WriteLine($"  {new FileInfo(db).Length / (double)rows:F1} bytes/row on disk");
        }
        return 0;
    }

    private const int SteadyFrom = 256 * 1024;
    private static long _steadyMark;

    /// <summary>Called at every row: remembers the allocation count once the buffers have reached their batch size.</summary>
    private static void Mark(int i)
    {
        if (i == SteadyFrom)
            _steadyMark = GC.GetTotalAllocatedBytes(precise: true);
    }

    private static void Measure(string what, int rows, Action run)
    {
        // STORE_ONLY=duckdb (a substring of the name) runs only the matching ways: quicker A/B runs.
        if (Environment.GetEnvironmentVariable("STORE_ONLY") is { Length: > 0 } only && !what.Contains(only, StringComparison.Ordinal))
            return;
        GC.Collect();
        _steadyMark = 0;
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        run();
        sw.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        long after = GC.GetTotalAllocatedBytes(precise: true);
        // Steady state: from row 256K (buffers grown, address cache warm) to the end, Complete included.
        double steady = _steadyMark == 0 ? double.NaN : (after - _steadyMark) / (double)(rows - SteadyFrom);
        Console.WriteLine($"{what,-24} {rows / sw.Elapsed.TotalSeconds / 1e6,6:F2} M rows/s  {sw.Elapsed.TotalSeconds,6:F2} s  "
            + $"allocated {(after - before) / (double)rows,7:F2} B/row overall, {steady,6:F2} B/row steady (all threads); "
            + $"CPU {cpu.TotalSeconds * 1e9 / rows,6:F0} ns/row");
    }

    private static PacketRow Packet(int i) => new()
    {
        TimestampUs = 1_795_000_000_000_000 + i,
        CapturePoint = (i & 1) == 0 ? "eth0" : "br0",
        Direction = SightingDirection.In,
        Family = RunFamily.Ipv4,
        Protocol = 6,
        Src = IpAddr.FromV4(0x0A000000u + (uint)(i % 1000)),
        Dst = IpAddr.FromV4(0xC0A80001u + (uint)(i % 7)),
        SrcPort = (ushort)(1024 + i),
        DstPort = 443,
        HasNat = i % 3 == 0,
        NatSrc = IpAddr.FromV4(0xCB007101),
        NatDst = IpAddr.FromV4(0xC0A80001),
        NatSrcPort = (ushort)(40000 + i),
        NatDstPort = 443,
        Length = 60 + i % 1400,
        CtId = i / 4,
        CtState = CtState.Established,
        Path = "PREROUTING>FORWARD>POSTROUTING",
        Verdict = i % 10 == 0 ? PacketVerdict.Drop : PacketVerdict.Accept,
        VerdictRuleId = i % 10 == 0 ? 3 : -1,
    };
}
