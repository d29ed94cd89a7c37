using System.Diagnostics;
using DuckDB.NET.Data;
using TraceReplay.Capture.Decode;
using TraceReplay.Store;

namespace TraceReplay.Benchmarks;

/// <summary>
/// `store --variants A,B,...`: where DuckDB's cost per packets row goes (README "The run database's
/// cost"). Each variant writes the packets columns (schema 2's shape, filled generically: no
/// RunWriter) through the Arrow import into a table of its own, with words of its name choosing:
/// `addrint` the four addresses as UINTEGER, `addr2` as two UBIGINTs, `addr3` as UINTEGER + two
/// UBIGINTs; `textint` capture_point/path/drop_reason/observed as integer codes; `packed` seven small
/// columns in one UINTEGER and the ports in pairs; `uncompressed` (force_compression), `order`
/// (preserve_insertion_order), `threads2`, `b16k`/`b256k` (batch rows), `notxn` (a transaction per
/// batch). `base` is schema 2's text columns. ENUM columns are plain UTINYINT here.
/// </summary>
public static class StoreVariants
{
    public static void Run(int rows, string dir, string variant)
    {
        bool addrInt = variant.Contains("addrint", StringComparison.Ordinal);
        bool textInt = variant.Contains("textint", StringComparison.Ordinal);
        bool addr2 = variant.Contains("addr2", StringComparison.Ordinal);
        bool addr3 = variant.Contains("addr3", StringComparison.Ordinal);
        var cols = new List<(string Name, int Kind)>();
        // kind: 0 i64, 1 ts, 2 text-low, 3 addr, 4 u8 enum code, 5 u8, 6 u16, 7 i32, 8 bool
        cols.AddRange([("id", 0), ("packet_id", 0), ("ts", 1), ("capture_point", 2), ("direction", 4), ("family", 4), ("proto", 5),
            ("src", 3), ("dst", 3), ("sport", 6), ("dport", 6), ("nat_src", 3), ("nat_dst", 3), ("nat_sport", 6), ("nat_dport", 6),
            ("len", 7), ("ct_id", 0), ("ct_state", 4), ("ct_dir", 4), ("path", 2), ("verdict", 4), ("verdict_rule_id", 7), ("drop_reason", 2), ("depends_on_unknown", 8), ("observed", 2)]);
        if (variant.Contains("packed", StringComparison.Ordinal))
        {
            // direction, family, proto, ct_state, ct_dir, verdict, depends_on_unknown in one UINTEGER; ports in pairs.
            cols.RemoveAll(c => c.Name is "direction" or "family" or "ct_state" or "ct_dir" or "depends_on_unknown" or "dport" or "nat_dport");
            cols[cols.FindIndex(c => c.Name == "proto")] = ("flags", 7);
            cols[cols.FindIndex(c => c.Name == "sport")] = ("ports", 7);
            cols[cols.FindIndex(c => c.Name == "nat_sport")] = ("nat_ports", 7);
        }
        var defs = new List<ColumnDef>();
        foreach (var (n, k) in cols)
        {
            bool nullable = n is "nat_src" or "nat_dst" or "nat_ports" or "nat_sport" or "nat_dport" or "drop_reason" or "observed" or "verdict_rule_id";
            if (k == 3 && addr3)
            {
                defs.Add(new ColumnDef(n + "_v4", ColKind.UInt32, true, ""));
                defs.Add(new ColumnDef(n + "_hi", ColKind.UInt64, true, ""));
                defs.Add(new ColumnDef(n + "_lo", ColKind.UInt64, true, ""));
                continue;
            }
            if (k == 3 && addr2)
            {
                defs.Add(new ColumnDef(n + "_hi", ColKind.UInt64, nullable, ""));
                defs.Add(new ColumnDef(n + "_lo", ColKind.UInt64, nullable, ""));
                continue;
            }
            var kind = k switch
            {
                0 => ColKind.Int64, 1 => ColKind.Ts, 2 => textInt ? ColKind.UInt16 : ColKind.Text, 3 => addrInt ? ColKind.UInt32 : ColKind.Text,
                4 => ColKind.UInt8, 5 => ColKind.UInt8, 6 => ColKind.UInt16, 7 => ColKind.Int32, _ => ColKind.Bool,
            };
            defs.Add(new ColumnDef(n, kind, nullable, ""));
        }
        var def = new TableDef("packets", "x", [.. defs]);
        var addrs = new AddressText();
        string path = Path.Combine(dir, $"variant-{variant}.duckdb");
        File.Delete(path);
        GC.Collect();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        using (var db = new DuckDBConnection("Data Source=" + path))
        {
            db.Open();
            using var cmd = db.CreateCommand();
            void Exec(string sql) { cmd.CommandText = sql; cmd.ExecuteNonQuery(); }
            foreach (var s in def.CreateStatements().Take(1))
                Exec(s);
            Exec(variant.Contains("threads2", StringComparison.Ordinal) ? "SET threads = 2" : "SET threads = 1");
            Exec(variant.Contains("order", StringComparison.Ordinal) ? "SET preserve_insertion_order = true" : "SET preserve_insertion_order = false");
            if (variant.Contains("uncompressed", StringComparison.Ordinal))
                Exec("SET force_compression = 'uncompressed'");
            bool txn = !variant.Contains("notxn", StringComparison.Ordinal);
            if (txn)
                Exec("BEGIN TRANSACTION");
            using var scan = new DuckDbArrowScan(db, def);
            int batchRows = variant.Contains("b16k", StringComparison.Ordinal) ? 16384 : variant.Contains("b256k", StringComparison.Ordinal) ? 262144 : 65536;
            var b = new TableBuffer(def, addrs, batchRows);
            string[] cps = ["eth0", "br0"];
            const string pathText = "PREROUTING>FORWARD>POSTROUTING";
            for (int i = 0; i < rows; i++)
            {
                bool nat = i % 3 == 0;
                foreach (var (n, k) in cols)
                {
                    bool isNull = (n.StartsWith("nat_", StringComparison.Ordinal) && !nat) || n is "drop_reason" or "observed" || (n == "verdict_rule_id" && i % 10 != 0);
                    if (isNull)
                    {
                        b.Null();
                        if (k == 3 && (addr2 || addr3))
                            b.Null();
                        if (k == 3 && addr3)
                            b.Null();
                        continue;
                    }
                    switch (k)
                    {
                        case 0: b.I64(i); break;
                        case 1: b.Ts(1_795_000_000_000_000 + i); break;
                        case 2:
                            if (textInt) b.U16((ushort)(i & 1));
                            else b.Text(n == "capture_point" ? cps[i & 1] : pathText);
                            break;
                        case 3:
                            uint v4 = n switch { "src" => 0x0A000000u + (uint)(i % 1000), "dst" => 0xC0A80001u + (uint)(i % 7), "nat_src" => 0xCB007101, _ => 0xC0A80001 };
                            if (addr3) { b.U32(v4); b.Null(); b.Null(); }
                            else if (addr2) { b.U64(0); b.U64(0xFFFF00000000UL | v4); }
                            else if (addrInt) b.U32(v4);
                            else b.Addr(IpAddr.FromV4(v4));
                            break;
                        case 4: b.U8(1); break;
                        case 5: b.U8(6); break;
                        case 6: b.U16((ushort)(1024 + i)); break;
                        case 7: b.I32(60 + i % 1400); break;
                        default: b.Bool(false); break;
                    }
                }
                b.EndRow();
                if (b.Rows == batchRows)
                {
                    using (var batch = b.BuildForScan())
                        scan.Insert(batch);
                    b.Clear();
                }
            }
            using (var batch = b.BuildForScan())
                scan.Insert(batch);
            b.Clear();
            Exec($"DROP VIEW IF EXISTS {scan.ViewName}");
            if (txn)
                Exec("COMMIT");
            Exec("CHECKPOINT");
        }
        sw.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Console.WriteLine($"variant {variant,-28} {rows / sw.Elapsed.TotalSeconds / 1e6,6:F2} M rows/s  CPU {cpu.TotalSeconds * 1e9 / rows,6:F0} ns/row  {new FileInfo(path).Length / (double)rows,5:F1} B/row on disk");
    }
}
