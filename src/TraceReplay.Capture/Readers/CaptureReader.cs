namespace TraceReplay.Capture.Readers;

/// <summary>
/// A forward-only reader of one capture file. <see cref="MoveNext"/> advances; <see cref="Current"/> and
/// <see cref="Data"/> describe the record until the next call (the bytes live in the reader's or
/// libpcap's buffer: nothing is allocated per record). Bad records follow <see cref="Policy"/>.
/// </summary>
public abstract class CaptureReader : IDisposable
{
    private protected CaptureRecord _current;
    private long _highWaterNs = long.MinValue;
    private bool _ended;

    protected CaptureReader(string path, BadRecordPolicy policy)
    {
        Path = path;
        Policy = policy;
    }

    public string Path { get; }
    public BadRecordPolicy Policy { get; }
    public CaptureProblems Problems { get; } = new();
    public abstract CaptureFormat Format { get; }
    public IReadOnlyList<CaptureInterface> Interfaces => InterfaceList;

    /// <summary>The interfaces described so far (pcapng describes them as it goes).</summary>
    private protected List<CaptureInterface> InterfaceList { get; } = [];

    public ref readonly CaptureRecord Current => ref _current;

    public abstract ReadOnlySpan<byte> Data { get; }

    /// <summary>
    /// The time the merge orders this record by: its timestamp, or the latest time the file already
    /// reached when the timestamp went backwards (kept under --skip-bad), so each file stays sorted.
    /// </summary>
    public long OrderNs => Math.Max(_current.TimestampNs, _highWaterNs);

    /// <summary>Advances to the next good record; false at the end of the file.</summary>
    /// <exception cref="CaptureFormatException">A bad record under <see cref="BadRecordPolicy.Stop"/>.</exception>
    public bool MoveNext()
    {
        while (!_ended)
        {
            try
            {
                if (!ReadRecord())
                {
                    _ended = true;
                    return false;
                }
                Validate();
                if (_current.TimestampNs < _highWaterNs)
                {
                    // Not an error even under Stop: multi-queue NICs and `tcpdump -i any` reorder by
                    // microseconds, and the pcapng spec does not promise order. The record is kept and
                    // every one is counted and reported, never silently reordered.
                    Problems.Backwards(Bad($"timestamp {FormatNs(_current.TimestampNs)} is earlier than the file's previous record ({FormatNs(_highWaterNs)})"));
                }
                else
                {
                    _highWaterNs = _current.TimestampNs;
                }
                return true;
            }
            catch (CaptureFormatException e) when (Policy == BadRecordPolicy.Skip)
            {
                Problems.Skipped(e);
                if (e.Fatal)
                    _ended = true;
            }
        }
        return false;
    }

    /// <summary>Reads the next record into <see cref="_current"/>; false at a clean end of file.</summary>
    protected abstract bool ReadRecord();

    private void Validate()
    {
        ref var r = ref _current;
        var iface = InterfaceList[r.InterfaceIndex];
        if (iface.Decodable && r.CapturedLength > 0 && r.CapturedLength <= r.WireLength
            && (iface.SnapLength <= 0 || r.CapturedLength <= iface.SnapLength))
        {
            return;
        }
        ValidateSlow(iface.SnapLength);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void ValidateSlow(int snap)
    {
        ref var r = ref _current;
        if (!LinkTypes.IsSupported(r.LinkType))
            throw Bad($"link type {(ushort)r.LinkType} ({LinkTypes.Name(r.LinkType)}) is not one this tool decodes (Ethernet, Linux SLL/SLL2, raw IPv4/IPv6, NULL/LOOP, NFLOG)");
        if (r.CapturedLength == 0)
            throw Bad($"zero-length record (original length {r.WireLength})");
        if (r.CapturedLength > r.WireLength)
            throw Bad($"captured length {r.CapturedLength} is larger than the original length {r.WireLength}");
        if (snap > 0 && r.CapturedLength > snap)
            throw Bad($"captured length {r.CapturedLength} is larger than the snap length {snap}");
    }

    private protected CaptureFormatException Bad(string problem, bool fatal = false) =>
        new(Path, _current.RecordNumber, _current.ByteOffset, problem) { Fatal = fatal };

    public static string FormatNs(long ns) =>
        DateTimeOffset.FromUnixTimeMilliseconds(Math.DivRem(ns, 1_000_000, out long rem) - (rem < 0 ? 1 : 0)).UtcDateTime
            .ToString("yyyy-MM-ddTHH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture)
        + (((ns % 1_000_000) + 1_000_000) % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture) + "Z";

    protected virtual void Dispose(bool disposing)
    {
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
