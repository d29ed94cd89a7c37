namespace TraceReplay.Capture.Readers;

/// <summary>What a reader does with a record it cannot trust.</summary>
public enum BadRecordPolicy
{
    /// <summary>Throw <see cref="CaptureFormatException"/>: the run stops with exit code 1.</summary>
    Stop,
    /// <summary>Count it, remember the message, go on (`--skip-bad`). A record that breaks the framing ends that file.</summary>
    Skip,
}

/// <summary>The bad records a reader skipped under <see cref="BadRecordPolicy.Skip"/>, and the records whose time went backwards (always kept).</summary>
public sealed class CaptureProblems
{
    /// <summary>How many messages are kept; the count goes on past it.</summary>
    public const int MaxMessages = 100;

    private readonly List<string> _messages = [];

    public long SkippedRecords { get; private set; }
    public long TimestampsBackwards { get; private set; }
    /// <summary>The file could not be read past a point; what followed is unread.</summary>
    public bool EndedEarly { get; private set; }
    public IReadOnlyList<string> Messages => _messages;
    public bool Any => SkippedRecords > 0 || TimestampsBackwards > 0 || EndedEarly;

    internal void Skipped(CaptureFormatException e)
    {
        SkippedRecords++;
        if (e.Fatal)
            EndedEarly = true;
        Remember(e.Message + (e.Fatal ? " (the rest of the file is unreadable and was not read)" : " (record skipped)"));
    }

    internal void Backwards(CaptureFormatException e)
    {
        TimestampsBackwards++;
        Remember(e.Message + " (kept, ordered at the file's latest time)");
    }

    private void Remember(string message)
    {
        if (_messages.Count < MaxMessages)
            _messages.Add(message);
    }
}
