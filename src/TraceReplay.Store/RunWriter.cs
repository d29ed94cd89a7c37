using Apache.Arrow;
using Apache.Arrow.Ipc;
using DuckDB.NET.Data;
using TraceReplay.Netfilter.Conntrack;
using TraceReplay.Netfilter.Nat;

namespace TraceReplay.Store;

/// <summary>How record batches reach DuckDB.</summary>
public enum DuckDbLoad
{
    /// <summary>Arrow C data interface + duckdb_arrow_array_scan + INSERT ... SELECT (the default: fastest, see README).</summary>
    ArrowScan,

    /// <summary>DuckDB.NET's appender, value by value (kept for comparison; allocates per row inside DuckDB.NET).</summary>
    Appender,
}

public sealed record RunWriterOptions
{
    /// <summary>Also write each table as DIR/TABLE.arrow (Arrow IPC file format): `--arrow DIR`.</summary>
    public string? ArrowDirectory { get; init; }

    /// <summary>Rows buffered per table before a record batch goes out.</summary>
    public int BatchRows { get; init; } = 64 * 1024;

    public DuckDbLoad Load { get; init; } = DuckDbLoad.ArrowScan;

    /// <summary>
    /// Hand full batches to a writer thread (DuckDB insert, Arrow file) while rows keep coming: a
    /// second core takes the storage cost. Same batches in the same order, so the same database.
    /// On by default when the machine has a second core.
    /// </summary>
    public bool WriterThread { get; init; } = Environment.ProcessorCount >= 2;

    /// <summary>
    /// DuckDB's memory_limit in MB. Its default (80% of RAM) lets the buffer pool keep every block the
    /// run's one transaction wrote, so its resident set grows with the packets; a limit makes it evict
    /// them (they are on disk already) and keeps it flat (issue 9: memory bounded by live connections).
    /// Measured (`scale`, a million connections): peak 785 MB at 128, 929 MB at 256, the same CPU per row.
    /// </summary>
    public int MemoryLimitMb { get; init; } = 128;
}

/// <summary>The output of a run could not be created or finished; the message names the path.</summary>
public sealed class RunStoreException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Writes the run database (DESIGN.md "Run database") as the replay streams rows into it: each table
/// buffers rows in reused Arrow column builders, and every <see cref="RunWriterOptions.BatchRows"/>
/// rows a record batch goes to DuckDB (and to the table's Arrow IPC file with --arrow). Until
/// <see cref="Complete"/> everything is written under a ".partial" name, renamed at the end, so a
/// failed or interrupted run never leaves a file that looks finished; disposing without Complete
/// deletes the partial files.
/// </summary>
public sealed partial class RunWriter : IDisposable
{
    private readonly string _path;
    private readonly string _partial;
    private readonly RunWriterOptions _options;
    private readonly DuckDBConnection _db;
    private readonly Table[] _tables;
    private readonly Table _packets, _rules, _connections, _nat, _events, _trace, _captures, _info, _fidelity, _text;
    private readonly Table _ctStart;
    private readonly TextIds _ids;
    private bool _completed;
    private bool _disposed;
    private readonly BatchWriter? _background;

    private sealed class Table(TableBuffer buffer, DuckDbArrowScan scan)
    {
        /// <summary>The buffer rows go into; with a writer thread, swapped for a spare at each batch.</summary>
        public TableBuffer Buffer { get; set; } = buffer;
        public DuckDbArrowScan Scan { get; } = scan;
        public ArrowFileWriter? Arrow { get; set; }
        public FileStream? ArrowStream { get; set; }
        public string? ArrowPartial { get; set; }
        public string? ArrowFinal { get; set; }
        public long Rows { get; set; }

        /// <summary>Emptied buffers back from the writer thread, and how many this table has made (RunWriter.Background.cs).</summary>
        public Stack<TableBuffer> Spares { get; } = new();
        public int Buffers { get; set; } = 1;
    }

    private RunWriter(string path, RunWriterOptions options)
    {
        _path = path;
        _partial = path + ".partial";
        _options = options;
        DeletePartial();
        try
        {
            _db = new DuckDBConnection("Data Source=" + _partial);
            _db.Open();
        }
        catch (Exception e) when (e is DuckDBException or IOException or UnauthorizedAccessException)
        {
            DeletePartial();
            throw new RunStoreException($"cannot create run database '{_partial}': {e.Message}", e);
        }

        // Keyed columns keep their text too only when a plain batch is wanted: the Arrow files.
        var addresses = new AddressText { KeepText = options.ArrowDirectory is not null };
        _ids = addresses.Ids;
        try
        {
            using (var cmd = _db.CreateCommand())
            {
                // One thread, and no order-preserving sink: on the writer's own connection each INSERT
                // reads one in-memory batch, which one thread keeps in order anyway, and measured
                // (StoreRun) the pair more than doubles the rows/s of the default (threads = cores,
                // order-preserving) on two busy cores. It also keeps the file's layout independent of
                // thread scheduling, for same-inputs-same-bytes.
                Exec(cmd, "SET threads = 1");
                Exec(cmd, "SET preserve_insertion_order = false");
                Exec(cmd, FormattableString.Invariant($"SET memory_limit = '{options.MemoryLimitMb}MB'"));
                // One transaction for the whole run, the schema included: row groups go straight to the
                // file as they fill (optimistic writes) instead of through the WAL batch by batch,
                // nothing of a failed run is ever committed, and the ~80 schema statements do not
                // each commit (an fsync of the WAL apiece: 189 fsyncs a run before, 0.47 s under load).
                Exec(cmd, "BEGIN TRANSACTION");
                foreach (var sql in RunSchema.CreateEnums())
                    Exec(cmd, sql);
                foreach (var t in RunSchema.Tables)
                {
                    foreach (var sql in t.CreateStatements())
                        Exec(cmd, sql);
                }
                foreach (var (name, comment, sql) in RunSchema.Views)
                {
                    Exec(cmd, $"CREATE VIEW {name} AS {sql}");
                    Exec(cmd, $"COMMENT ON VIEW {name} IS {TableDef.Quote(comment)}");
                }
            }
            _tables = [.. RunSchema.Tables.Select(t => new Table(new TableBuffer(t, addresses, Math.Min(options.BatchRows, 4096)), new DuckDbArrowScan(_db, t)))];
            if (options.ArrowDirectory is { } dir)
                OpenArrow(dir);
            if (options.WriterThread)
                _background = new BatchWriter(this, addresses);
        }
        catch
        {
            Dispose();
            throw;
        }
        Table Of(TableDef d) => _tables[System.Array.IndexOf(RunSchema.Tables, d)];
        (_packets, _rules, _connections, _nat, _events, _trace, _captures, _info, _fidelity, _text) =
            (Of(RunSchema.Packets), Of(RunSchema.Rules), Of(RunSchema.Connections), Of(RunSchema.NatMappings), Of(RunSchema.ConntrackEvents),
             Of(RunSchema.RuleTrace), Of(RunSchema.Captures), Of(RunSchema.RunInfo), Of(RunSchema.Fidelity), Of(RunSchema.RunText));
        _ctStart = Of(RunSchema.ConntrackStart);
        CreateRowSources();
        AddInfo("schema_version", RunSchema.Version.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Starts a run database at <paramref name="path"/> (written as PATH.partial until <see cref="Complete"/>).</summary>
    public static RunWriter Create(string path, RunWriterOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new RunWriterOptions();
        if (options.BatchRows <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), "BatchRows must be positive");
        if (options.MemoryLimitMb <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), "MemoryLimitMb must be positive");
        string full;
        try
        {
            full = Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new RunStoreException($"cannot create run database '{path}': not a valid path ({e.Message})", e);
        }
        if (Directory.Exists(full))
            throw new RunStoreException($"cannot create run database '{path}': it is a directory; expected a file name such as RUN.duckdb");
        string? dir = Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir))
            throw new RunStoreException($"cannot create run database '{path}': directory '{dir}' does not exist");
        return new RunWriter(full, options);
    }

    /// <summary>The run_text rows of the ids the last rows took (a new capture point, path, reason or IPv6 address).</summary>
    private void WriteTexts() => _ids.Drain((id, text) =>
    {
        var b = _text.Buffer;
        b.U32(id);
        b.Text(text);
        EndFilledRow(_text);
    });

    /// <summary>The packets row's columns in schema order, without ending the row (the Arrow-only benchmark).</summary>
    internal static void AppendPacket(TableBuffer b, in PacketRow r) =>
        AppendPacket(b, Record(r, 0, 0, 0, 0), r.CapturePoint, r.Path, r.DropReason, r.Observed);

    /// <summary>The packets row's columns in schema order, its texts resolved from their handles, without ending the row.</summary>
    internal static void AppendPacket(TableBuffer b, in PacketRecord r, string? capturePoint, string? path, string? dropReason, string? observed)
    {
        b.I64(r.Id);
        b.I64(r.PacketId);
        b.Ts(r.TimestampUs);
        b.Text(capturePoint);
        b.Text(r.Direction switch { SightingDirection.In => "in", SightingDirection.Out => "out", _ => null });
        if (r.Family == RunFamily.None)
        {
            for (int i = 0; i < 10; i++)
                b.Null();
        }
        else
        {
            b.Text(RunSchema.Family(r.Family));
            b.U8(r.Protocol);
            b.Addr(r.Src);
            b.Addr(r.Dst);
            b.U16(r.SrcPort);
            b.U16(r.DstPort);
            if (r.HasNat)
            {
                b.Addr(r.NatSrc);
                b.Addr(r.NatDst);
                b.U16(r.NatSrcPort);
                b.U16(r.NatDstPort);
            }
            else
            {
                b.Null();
                b.Null();
                b.Null();
                b.Null();
            }
        }
        b.I32(r.Length);
        if (r.CtId < 0)
        {
            b.Null();
            b.Text(r.CtState == CtState.Invalid ? "INVALID" : r.CtState == CtState.Untracked ? "UNTRACKED" : null);
            b.Null();
        }
        else
        {
            b.I64(r.CtId);
            b.Text(CtStateName(r.CtState));
            b.Text(r.CtDirection == CtDirection.Original ? "ORIGINAL" : "REPLY");
        }
        b.Text(path);
        b.Text(r.Verdict switch
        {
            PacketVerdict.Accept => "ACCEPT",
            PacketVerdict.Drop => "DROP",
            PacketVerdict.Reject => "REJECT",
            PacketVerdict.Queue => "QUEUE",
            _ => "STOLEN",
        });
        NullableId(b, r.VerdictRuleId);
        b.Text(dropReason);
        b.Bool(r.DependsOnUnknown);
        b.Text(observed);
    }

    public void AddRule(in RuleRow r)
    {
        var b = _rules.Buffer;
        b.I32(r.Id);
        b.Text(RunSchema.Family(r.Family));
        b.Text(r.Table);
        b.Text(r.Chain);
        b.I32(r.Position);
        b.Bool(r.IsPolicy);
        b.Text(r.Text);
        b.U64(r.Packets);
        b.U64(r.Bytes);
        EndRow(_rules);
    }

    private static void AppendConnection(TableBuffer b, in ConnectionRow r)
    {
        b.I64(r.CtId);
        Tuples(b, r.Orig, r.Reply);
        b.Ts(r.FirstUs);
        if (r.LastUs < 0)
            b.Null();
        else
            b.Ts(r.LastUs);
        b.U32((uint)r.Status);
        b.Text(r.Orig.Protocol == 6 ? TcpStateName(r.TcpState) : null);
        b.U32(r.Mark);
        b.U16(r.Zone);
        b.U64(r.OrigPackets);
        b.U64(r.OrigBytes);
        b.U64(r.ReplyPackets);
        b.U64(r.ReplyBytes);
    }

    private static void AppendNatMapping(TableBuffer b, in NatMapping m)
    {
        b.Ts(m.SetUpNs / 1000);
        if (m.RemovedNs == NatMapping.Live)
            b.Null();
        else
            b.Ts(m.RemovedNs / 1000);
        Tuples(b, m.Original, m.Reply);
        NullableId(b, m.RuleId);
        b.Addr(m.NatAddress);
        b.U16(m.NatPort);
        b.Text(m.Manip == NfNatManipType.Src ? "SRC" : "DST");
    }

    private static void AppendConntrackEvent(TableBuffer b, in NfConntrackEvent e)
    {
        b.Ts(e.Time / 1000);
        b.Text(e.Type switch { NfctEventType.New => "NEW", NfctEventType.Update => "UPDATE", _ => "DESTROY" });
        b.U16((ushort)e.Mask);
        b.I64(e.Entry);
        Tuples(b, e.Orig, e.Reply);
        b.U16(e.Zone);
        b.U32((uint)e.Status);
        b.Text(e.Orig.Protocol == 6 ? TcpStateName(e.TcpState) : null);
        b.U32(e.Mark);
        b.I64(Math.Max(0, e.Deadline - e.Time) / 1_000_000_000);
        if (e.Type == NfctEventType.Destroy && e.HasAcct)
        {
            b.U64(e.OrigPackets);
            b.U64(e.OrigBytes);
            b.U64(e.ReplyPackets);
            b.U64(e.ReplyBytes);
        }
        else
        {
            b.Null();
            b.Null();
            b.Null();
            b.Null();
        }
    }

    public void AddRuleTrace(in RuleTraceRow r)
    {
        var b = _trace.Buffer;
        b.I64(r.PacketId);
        b.I32(r.Seq);
        b.Text(RunSchema.Family(r.Family));
        b.Text(r.Hook);
        b.Text(r.Table);
        b.Text(r.Chain);
        b.I32(r.RuleNum);
        NullableId(b, r.RuleId);
        b.Text(r.Type switch { RuleTraceType.Rule => "rule", RuleTraceType.Return => "return", _ => "policy" });
        if (r.Matched is { } m)
            b.Bool(m);
        else
            b.Null();
        b.Text(r.Verdict);
        EndRow(_trace);
    }

    /// <summary>An entry of the snapshot's starting connection table as it went live (conntrack_start).</summary>
    public void AddConntrackStart(in ConntrackStartRow r)
    {
        var b = _ctStart.Buffer;
        b.Ts(r.TimestampUs);
        b.I64(r.CtId);
        b.U32((uint)r.Status);
        b.Text(r.Protocol == 6 ? TcpStateName(r.TcpState) : null);
        b.U32(r.Mark);
        b.I64(r.TimeoutSeconds);
        EndRow(_ctStart);
    }

    public void AddCapture(in CaptureRow r)
    {
        var b = _captures.Buffer;
        b.Text(r.File);
        b.Text(r.Format);
        b.Text(r.LinkType);
        b.Text(r.Interface);
        b.I64(r.Packets);
        if (r.Packets == 0)
        {
            b.Null();
            b.Null();
        }
        else
        {
            b.Ts(r.FirstUs);
            b.Ts(r.LastUs);
        }
        EndRow(_captures);
    }

    /// <summary>A run_info entry: input, version, option, warning...; keys may repeat (one row per warning).</summary>
    public void AddInfo(string key, string value)
    {
        var b = _info.Buffer;
        b.Text(key);
        b.Text(value);
        EndRow(_info);
    }

    /// <summary>Flushes every table, finishes the Arrow files and renames everything to its final name.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
            throw new InvalidOperationException("the run is already complete");
        HandOverRows();
        foreach (var t in _tables)
            Flush(t);
        _background?.Finish();
        using (var cmd = _db.CreateCommand())
        {
            foreach (var t in _tables)
                Exec(cmd, $"DROP VIEW IF EXISTS {t.Scan.ViewName}");
            Exec(cmd, "COMMIT");
            Exec(cmd, "CHECKPOINT");
        }
        foreach (var t in _tables)
        {
            t.Scan.Dispose();
            if (t.Arrow is not null)
            {
                t.Arrow.WriteEnd();
                t.Arrow.Dispose();
                t.ArrowStream!.Dispose();
                t.Arrow = null;
            }
        }
        _db.Close();
        _db.Dispose();
        try
        {
            File.Move(_partial, _path, overwrite: true);
            foreach (var t in _tables)
            {
                if (t.ArrowPartial is not null)
                    File.Move(t.ArrowPartial, t.ArrowFinal!, overwrite: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new RunStoreException($"cannot finish run database '{_path}': {e.Message}", e);
        }
        _completed = true;
        _disposed = true;
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _background?.Abandon();
        foreach (var t in _tables ?? [])
        {
            t.Scan.Dispose();
            t.Arrow?.Dispose();
            t.ArrowStream?.Dispose();
            if (t.ArrowPartial is not null)
                TryDelete(t.ArrowPartial);
        }
        _db?.Dispose();
        DeletePartial();
    }

    private void EndRow(Table t)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        t.Buffer.EndRow();
        if (t.Buffer.Rows >= _options.BatchRows)
            Flush(t);
    }

    private void Flush(Table t)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (FilledFromRows(t))
        {
            // Its buffer is the filling side's: store what it holds there, after the rows handed over before.
            if (_background is not null)
                _background.EnqueueStore(t);
            else
                StoreFilled(t);
            return;
        }
        if (t.Buffer.Rows == 0)
            return;
        t.Rows += t.Buffer.Rows;
        if (_background is not null)
        {
            _background.Enqueue(t);
            return;
        }
        Store(t, t.Buffer);
    }

    /// <summary>One batch to the Arrow file (as text) and DuckDB (as stored), then the buffer is empty for reuse.</summary>
    private void Store(Table t, TableBuffer buffer)
    {
        if (t.Arrow is not null)
        {
            using var plain = buffer.Build();
            t.Arrow.WriteRecordBatch(plain);
        }
        using (var batch = buffer.BuildForScan())
        {
            if (_options.Load == DuckDbLoad.ArrowScan)
                t.Scan.Insert(batch);
            else
                DuckDbAppend.Append(_db, buffer.Def, batch);
        }
        buffer.Clear();
    }

    private void OpenArrow(string dir)
    {
        try
        {
            Directory.CreateDirectory(dir);
            foreach (var t in _tables)
            {
                t.ArrowFinal = Path.Combine(dir, t.Buffer.Def.Name + ".arrow");
                t.ArrowPartial = t.ArrowFinal + ".partial";
                t.ArrowStream = new FileStream(t.ArrowPartial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                t.Arrow = new ArrowFileWriter(t.ArrowStream, t.Buffer.Def.Schema, leaveOpen: true);
                t.Arrow.WriteStart();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new RunStoreException($"cannot write Arrow files to '{dir}': {e.Message}", e);
        }
    }

    private static void Tuples(TableBuffer b, in NfConntrackTuple orig, in NfConntrackTuple reply)
    {
        b.Text(orig.IsV6 ? "ipv6" : "ipv4");
        b.U8(orig.Protocol);
        Tuple(b, orig);
        Tuple(b, reply);
    }

    private static void Tuple(TableBuffer b, in NfConntrackTuple t)
    {
        b.Addr(t.Src);
        b.Addr(t.Dst);
        if (t.Protocol is 1 or 58)
        {
            b.U16(t.SrcPort);
            b.U16((ushort)((t.IcmpType << 8) | t.IcmpCode));
        }
        else
        {
            b.U16(t.SrcPort);
            b.U16(t.DstPort);
        }
    }

    private static void NullableId(TableBuffer b, int id)
    {
        if (id < 0)
            b.Null();
        else
            b.I32(id);
    }

    private static string? CtStateName(CtState s) => s switch
    {
        CtState.New => "NEW",
        CtState.Established => "ESTABLISHED",
        CtState.Related => "RELATED",
        CtState.Untracked => "UNTRACKED",
        _ => "INVALID",
    };

    /// <summary>tcp_conntrack_names (nf_conntrack_proto_tcp.c).</summary>
    internal static string TcpStateName(TcpConntrack s) => s switch
    {
        TcpConntrack.SynSent => "SYN_SENT",
        TcpConntrack.SynRecv => "SYN_RECV",
        TcpConntrack.Established => "ESTABLISHED",
        TcpConntrack.FinWait => "FIN_WAIT",
        TcpConntrack.CloseWait => "CLOSE_WAIT",
        TcpConntrack.LastAck => "LAST_ACK",
        TcpConntrack.TimeWait => "TIME_WAIT",
        TcpConntrack.Close => "CLOSE",
        TcpConntrack.SynSent2 => "SYN_SENT2",
        _ => "NONE",
    };

    private static void Exec(DuckDBCommand cmd, string sql)
    {
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private void DeletePartial()
    {
        TryDelete(_partial);
        TryDelete(_partial + ".wal");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the name ends in .partial, so what is left never passes for a finished run.
        }
    }
}
