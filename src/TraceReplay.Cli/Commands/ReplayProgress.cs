using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using TraceReplay.Capture.Decode;
using TraceReplay.Capture.Points;
using TraceReplay.Replay.Pipeline;

namespace TraceReplay.Cli.Commands;

/// <summary>
/// Progress of a replay on the terminal (stderr): packets, packets/s and the share of the capture
/// bytes read. Silent — and costing nothing, the sink is not even wrapped — when stderr is not a
/// terminal (a pipe, a file, a test's writer) or with --quiet, so scripts see only the report.
/// </summary>
internal sealed class ReplayProgress : IDisposable
{
    // What a capture record costs on disk besides its bytes (a pcap record header; pcapng's EPB is
    // a little larger): the share read is an estimate, held below 100 % until the end.
    private const int RecordOverhead = 16;
    private const int UpdateEvery = 4096;

    private readonly TaskCompletionSource? _finish;
    private readonly Task? _render;
    private readonly ProgressTask? _task;
    private readonly long _totalBytes;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _packets;
    private long _bytes;

    private ReplayProgress()
    {
    }

    private ReplayProgress(long totalBytes)
    {
        _totalBytes = Math.Max(totalBytes, 1);
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var started = new TaskCompletionSource<ProgressTask>();
        _finish = new TaskCompletionSource();
        var finish = _finish;
        _render = console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                started.SetResult(ctx.AddTask("replay", maxValue: _totalBytes));
                await finish.Task.ConfigureAwait(false);
            });
        _task = started.Task.GetAwaiter().GetResult();
    }

    /// <summary>Progress on <paramref name="stderr"/> when it is the process's terminal and not <paramref name="quiet"/>; otherwise none.</summary>
    public static ReplayProgress Start(TextWriter stderr, IReadOnlyList<CaptureSource> sources, bool quiet)
    {
        bool terminal = !quiet && ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        return terminal ? new ReplayProgress(sources.Sum(s => new FileInfo(s.Path).Length)) : new ReplayProgress();
    }

    /// <summary>The sink to give the job: <paramref name="inner"/> itself when there is no progress to show.</summary>
    public IReplaySink Wrap(IReplaySink inner) => _task is null ? inner : new Counting(inner, this);

    /// <summary>Ends the display (before the report is printed); repeatable.</summary>
    public void Done()
    {
        if (_finish is null || _finish.Task.IsCompleted)
            return;
        _task!.Value = _totalBytes;
        _finish.SetResult();
        _render!.GetAwaiter().GetResult();
    }

    public void Dispose() => Done();

    private void Count(int capturedLength)
    {
        _packets++;
        _bytes += capturedLength + RecordOverhead;
        if (_packets % UpdateEvery != 0)
            return;
        double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        _task!.Value = Math.Min(_bytes, _totalBytes * 0.99);
        _task.Description = string.Create(CultureInfo.InvariantCulture, $"{_packets:N0} packets, {_packets / seconds:N0}/s");
    }

    private sealed class Counting(IReplaySink inner, ReplayProgress progress) : IReplaySink
    {
        public void Add(in ReplayedSighting sighting, in DecodedPacket packet)
        {
            progress.Count(packet.CapturedLength);
            inner.Add(sighting, packet);
        }

        public void Decide(long sightingNumber, TraceReplay.Replay.Fidelity.FidelityOutcome outcome) => inner.Decide(sightingNumber, outcome);
    }
}
