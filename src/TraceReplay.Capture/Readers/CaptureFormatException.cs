namespace TraceReplay.Capture.Readers;

/// <summary>
/// A capture file that is not what it claims to be. The message always names the file, the record and
/// the byte offset, so a user can look at it with a hex editor or `editcap`.
/// </summary>
public sealed class CaptureFormatException : Exception
{
    public CaptureFormatException(string path, long recordNumber, long byteOffset, string problem)
        : base(Format(path, recordNumber, byteOffset, problem))
    {
        Path = path;
        RecordNumber = recordNumber;
        ByteOffset = byteOffset;
        Problem = problem;
    }

    public CaptureFormatException()
    {
        Path = Problem = string.Empty;
    }

    public CaptureFormatException(string message) : base(message)
    {
        Path = Problem = string.Empty;
    }

    public CaptureFormatException(string message, Exception innerException) : base(message, innerException)
    {
        Path = Problem = string.Empty;
    }

    public string Path { get; }
    public long RecordNumber { get; }
    public long ByteOffset { get; }
    public string Problem { get; }

    /// <summary>True when nothing after this point of the file can be read (the framing itself is lost).</summary>
    public bool Fatal { get; init; }

    private static string Format(string path, long record, long offset, string problem) => record > 0
        ? $"{path}: record {record} at byte offset {offset}: {problem}"
        : $"{path}: at byte offset {offset}: {problem}";
}
