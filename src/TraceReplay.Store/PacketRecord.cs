using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Store;

/// <summary>
/// A row of <c>packets</c> as the replay hands it over: <see cref="PacketRow"/> with its texts as
/// handles of <see cref="RunWriter.TextHandle"/>, so the value holds no reference. The simulate
/// thread copies it into a plain array (no write barrier, nothing for the GC to trace) and the
/// writer thread turns a whole array into columns (RunWriter.Records.cs), the way a NIC's
/// descriptor ring hands frames to the stack without touching their contents.
/// </summary>
public struct PacketRecord
{
    public long Id;
    public long PacketId;
    public long TimestampUs;
    public long CtId;
    public IpAddr Src;
    public IpAddr Dst;
    public IpAddr NatSrc;
    public IpAddr NatDst;

    /// <summary>Texts: handles of <see cref="RunWriter.TextHandle"/>; 0 is NULL.</summary>
    public int CapturePoint;
    public int Path;
    public int DropReason;
    public int Observed;

    public int Length;
    public int VerdictRuleId;
    public ushort SrcPort;
    public ushort DstPort;
    public ushort NatSrcPort;
    public ushort NatDstPort;
    public SightingDirection Direction;
    public RunFamily Family;
    public byte Protocol;
    public bool HasNat;
    public CtState CtState;
    public CtDirection CtDirection;
    public PacketVerdict Verdict;
    public bool DependsOnUnknown;
}
