using System.Diagnostics;
using TraceReplay.Cli.Commands;

namespace TraceReplay.Tests.Cli;

/// <summary>ThreadCpuLedger: CPU time by pipeline thread, kept after the thread has exited.</summary>
public sealed class ThreadCpuLedgerTests
{
    [Fact]
    public void A_stage_thread_that_exited_keeps_its_cpu_time_in_its_group()
    {
        Assert.SkipUnless(Directory.Exists("/proc/self/task"), "needs Linux procfs (/proc/self/task)");
        using var ledger = new ThreadCpuLedger();
        double before = ledger.Now()[(int)ThreadCpuLedger.Group.Writer];
        // Named as the run writer's thread is; it burns 400 ms of CPU and exits. The ledger's timer
        // (100 ms) sees it alive; afterwards it is gone from /proc/self/task, and only the process total
        // still holds its time.
        var worker = new Thread(() =>
        {
            var spin = Stopwatch.StartNew();
            long x = 0;
            while (spin.ElapsedMilliseconds < 400 || ThreadCpuSeconds() < 0.4)
                x += spin.ElapsedTicks & 1;
            GC.KeepAlive(x);
        }) { Name = "RunWriter" };
        worker.Start();
        worker.Join();
        Thread.Sleep(250); // a sample after the exit as well as the one Now() takes
        double after = ledger.Now()[(int)ThreadCpuLedger.Group.Writer];
        // At least what it burned, less a tick of rounding at either end; other tests' writer threads
        // may add to the group, so there is no upper bound.
        Assert.True(after - before >= 0.38, $"writer group gained {after - before:F3} s");
    }

    [Fact]
    public void The_constructing_thread_is_the_simulate_thread()
    {
        Assert.SkipUnless(Directory.Exists("/proc/self/task"), "needs Linux procfs (/proc/self/task)");
        using var ledger = new ThreadCpuLedger();
        double before = ledger.Now()[(int)ThreadCpuLedger.Group.Simulate];
        double start = ThreadCpuSeconds();
        var spin = Stopwatch.StartNew();
        long x = 0;
        while (ThreadCpuSeconds() - start < 0.2 && spin.ElapsedMilliseconds < 5000)
            x += spin.ElapsedTicks & 1;
        GC.KeepAlive(x);
        double gained = ledger.Now()[(int)ThreadCpuLedger.Group.Simulate] - before;
        double own = ThreadCpuSeconds() - start;
        // Both read this thread's utime + stime in ticks of 10 ms.
        Assert.Equal(own, gained, 0.03);
    }

    [Fact]
    public void What_sampling_allocates_is_counted_as_the_ledgers_own()
    {
        Assert.SkipUnless(Directory.Exists("/proc/self/task"), "needs Linux procfs (/proc/self/task)");
        using var ledger = new ThreadCpuLedger();
        long own0 = ledger.OwnAllocatedBytes;
        long mine0 = GC.GetAllocatedBytesForCurrentThread();
        ledger.Now();
        long mine = GC.GetAllocatedBytesForCurrentThread() - mine0;
        long own = ledger.OwnAllocatedBytes - own0;
        // Now() samples on this thread: listing /proc/self/task alone allocates (strings, arrays), and
        // all of it but the double[4] Now() returns (56 B with its header) is the sampling's. The poller
        // may sample meanwhile and add its own bytes: a lower bound only.
        Assert.True(mine > 200, $"a sample allocated only {mine} B on this thread");
        Assert.True(own >= mine - 64, $"ledger counted {own} B of the {mine} B its sample allocated here");
    }

    /// <summary>This thread's CPU time (CLOCK_THREAD_CPUTIME_ID through the runtime would do; procfs keeps the test independent of the code under test's parser).</summary>
    private static double ThreadCpuSeconds()
    {
        string stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
    }
}
