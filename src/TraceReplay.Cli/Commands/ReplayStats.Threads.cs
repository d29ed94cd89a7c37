using System.Globalization;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// CPU time per pipeline thread for `replay --stats`, read from procfs as `top -H` or `pidstat -t` do
/// (proc_task_readdir, then do_task_stat's utime and stime of each /proc/self/task/TID/stat, in clock
/// ticks). The stages' threads end before the run does (the receive thread after the last batch, the
/// writer in Complete), and an exited thread leaves procfs while its time stays in the process's
/// (__exit_signal adds it to signal_struct, which /proc/self/stat reports). So the ledger samples on
/// a slow timer to learn each thread's name while it lives, and when threads vanish between two
/// samples it gives them what the process total gained beyond the live threads — their final times.
/// </summary>
internal sealed class ThreadCpuLedger : IDisposable
{
    /// <summary>The groups the report names; Other is everything else (JIT, GC, DuckDB's pool, the runtime, this ledger's own thread).</summary>
    public enum Group
    {
        Simulate,
        Receive,
        Writer,
        Other,
    }

    public const int Groups = 4;

    // USER_HZ: what procfs's tick fields count in on every Linux ABI (sysconf(_SC_CLK_TCK)).
    private const double TicksPerSecond = 100;
    private const int PollMilliseconds = 100;

    private readonly int _simulateTid;
    private readonly Dictionary<int, (Group Group, long Ticks)> _live = [];
    private readonly long[] _exited = new long[Groups];
    private readonly byte[] _buffer = new byte[1024];
    private readonly Lock _gate = new();
    private readonly Thread? _poller;
    private readonly ManualResetEventSlim _stop = new();
    private long _unattributed;
    private long _ownAllocated;

    /// <summary>Starts sampling; the calling thread is the one that will run the replay loop.</summary>
    public ThreadCpuLedger()
    {
        _simulateTid = CurrentTid();
        if (_simulateTid < 0)
            return;
        _unattributed = Sample(null);
        // A thread of its own that sleeps, not a Timer: a thread-pool worker woken every 100 ms spins
        // before it parks again (LowLevelLifoSemaphore), which cost ~2 % of the run's CPU samples.
        _poller = new Thread(() =>
        {
            while (!_stop.Wait(PollMilliseconds))
                Sample(null);
        }) { IsBackground = true, Name = "ReplayStats" };
        _poller.Start();
    }

    /// <summary>
    /// Managed bytes the ledger's sampling allocated (directory listings, paths, its dictionary), on
    /// whichever thread sampled: `--stats` takes them out of the run's bytes allocated per sighting,
    /// which would otherwise count the measuring as the replay's.
    /// </summary>
    public long OwnAllocatedBytes
    {
        get
        {
            lock (_gate)
                return _ownAllocated;
        }
    }

    /// <summary>Whether procfs was there to read (Linux); without it every figure is unknown.</summary>
    public bool Available => _poller is not null;

    /// <summary>CPU seconds each group has used since the process started, exited threads included.</summary>
    public double[] Now()
    {
        var seconds = new double[Groups];
        if (Available)
            Sample(seconds);
        return seconds;
    }

    public void Dispose()
    {
        _stop.Set();
        _poller?.Join();
        _stop.Dispose();
    }

    /// <summary>Reads every thread, settles the ones that exited; fills <paramref name="totals"/> when given. Returns the unattributed ticks.</summary>
    private long Sample(double[]? totals)
    {
        lock (_gate)
        {
            long allocated0 = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                return SampleLocked(totals);
            }
            finally
            {
                _ownAllocated += GC.GetAllocatedBytesForCurrentThread() - allocated0;
            }
        }
    }

    private long SampleLocked(double[]? totals)
    {
        {
            var seen = new Dictionary<int, (Group, long)>(_live.Count + 4);
            long liveTicks = 0;
            string[] tasks;
            try
            {
                tasks = Directory.GetDirectories("/proc/self/task");
            }
            catch (IOException)
            {
                return _unattributed;
            }
            foreach (string dir in tasks)
            {
                if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int tid)
                    || ReadStat(dir + "/stat") is not (string comm, long ticks))
                    continue; // exited between the listing and the read: settled at the next sample
                seen[tid] = (Classify(tid, comm), ticks);
                liveTicks += ticks;
            }
            // Read after the threads: time they use meanwhile lands in the process total only, and
            // shows up as a few ticks of "exited" noise, never as a negative.
            long total = ReadStat("/proc/self/stat") is (_, long t) ? t : liveTicks;
            long unattributed = total - liveTicks;
            long gained = unattributed - _unattributed;
            long vanishedTicks = 0;
            foreach (var (tid, (_, ticks)) in _live)
            {
                if (!seen.ContainsKey(tid))
                    vanishedTicks += ticks;
            }
            if (vanishedTicks > 0)
            {
                // What the exited threads had when last seen is theirs for certain; what they used after
                // that is split between them by that share (one stage thread usually exits alone).
                long extra = Math.Max(0, gained - vanishedTicks);
                foreach (var (tid, (group, ticks)) in _live)
                {
                    if (!seen.ContainsKey(tid))
                        _exited[(int)group] += ticks + extra * ticks / vanishedTicks;
                }
            }
            _unattributed = unattributed;
            _live.Clear();
            foreach (var (tid, v) in seen)
                _live[tid] = v;
            if (totals is not null)
            {
                // Other is the rest of the process total: threads never seen alive (born and gone between
                // two samples) are in it, and the groups add up to what /proc/self/stat says.
                long named = 0;
                for (int g = 0; g < (int)Group.Other; g++)
                {
                    long ticks = _exited[g];
                    foreach (var (_, (group, live)) in _live)
                        ticks += (int)group == g ? live : 0;
                    totals[g] = ticks / TicksPerSecond;
                    named += ticks;
                }
                totals[(int)Group.Other] = Math.Max(0, total - named) / TicksPerSecond;
            }
            return unattributed;
        }
    }

    private Group Classify(int tid, string comm) =>
        tid == _simulateTid ? Group.Simulate
        : comm.StartsWith("TraceReplay rec", StringComparison.Ordinal) ? Group.Receive // "TraceReplay receive" cut to TASK_COMM_LEN
        : comm == "RunWriter" ? Group.Writer
        : Group.Other;

    /// <summary>comm and utime + stime of a stat file (fields 2, 14 and 15 of proc(5)); null when it cannot be read.</summary>
    private (string Comm, long Ticks)? ReadStat(string path)
    {
        int n;
        try
        {
            using var handle = File.OpenHandle(path);
            n = RandomAccess.Read(handle, _buffer, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var text = _buffer.AsSpan(0, n);
        // comm may hold spaces and parentheses: it runs from the first '(' to the last ')'.
        int open = text.IndexOf((byte)'('), close = text.LastIndexOf((byte)')');
        if (open < 0 || close < open)
            return null;
        string comm = System.Text.Encoding.UTF8.GetString(text[(open + 1)..close]);
        var rest = text[(close + 2)..]; // field 3 (state) onwards
        long utime = 0, stime = 0;
        for (int field = 3; field <= 15 && !rest.IsEmpty; field++)
        {
            int space = rest.IndexOf((byte)' ');
            var value = space < 0 ? rest : rest[..space];
            if (field == 14)
                _ = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out utime);
            else if (field == 15)
                _ = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out stime);
            rest = space < 0 ? [] : rest[(space + 1)..];
        }
        return (comm, utime + stime);
    }

    /// <summary>The kernel's id of the calling thread (/proc/thread-self links to PID/task/TID); -1 without procfs.</summary>
    private static int CurrentTid()
    {
        try
        {
            string? target = new DirectoryInfo("/proc/thread-self").LinkTarget;
            return target is not null && int.TryParse(Path.GetFileName(target), NumberStyles.None, CultureInfo.InvariantCulture, out int tid) ? tid : -1;
        }
        catch (IOException)
        {
            return -1;
        }
    }
}
