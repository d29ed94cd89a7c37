using System.Text;

namespace TraceReplay.Host.Iptables.Extensions.Matches;

/// <summary>How `--chunk-types` compares the chunk list (SCTP_CHUNK_MATCH_ANY / _ALL / _ONLY of xt_sctp.h).</summary>
public enum SctpChunkMatch : byte
{
    Any = 0x01,
    All = 0x02,
    Only = 0x04,
}

/// <summary>Flag bits one chunk type must have (struct xt_sctp_flag_info); <see cref="ChunkType"/> is what the kernel receives.</summary>
public readonly record struct SctpChunkFlags(byte ChunkType, byte Flags, byte Mask);

/// <summary>
/// `-m sctp` (extensions/libxt_sctp.c; kernel xt_sctp.c sctp_mt): port ranges and
/// `--chunk-types any|all|only LIST|ALL|NONE` with per-chunk flags (`DATA:iUbE`).
/// </summary>
[XtMatch("sctp")]
public sealed class SctpMatch : XtMatch
{
    private const int MaxFlagInfos = 4; // XT_NUM_SCTP_FLAGS
    private readonly ulong[] _chunkMap = new ulong[4];
    private readonly List<SctpChunkFlags> _flagInfo = [];
    private XtOptionSet _flags;

    public XtRange? SourcePorts { get; private set; }
    public bool InvertSourcePorts { get; private set; }
    public XtRange? DestinationPorts { get; private set; }
    public bool InvertDestinationPorts { get; private set; }

    /// <summary>Null when --chunk-types was not given.</summary>
    public SctpChunkMatch? ChunkMatch { get; private set; }
    public bool InvertChunkTypes { get; private set; }
    public IReadOnlyList<SctpChunkFlags> ChunkFlags => _flagInfo;

    public bool HasChunk(byte type) => (_chunkMap[type >> 6] & (1UL << (type & 63))) != 0;

    /// <summary>sctp_chunk_names[] in its order: name, chunk type, valid flag letters from bit 7 down to bit 0.</summary>
    private static readonly (string Name, byte Type, string Flags)[] ChunkNames =
    [
        ("DATA", 0, "----IUBE"), ("INIT", 1, "--------"), ("INIT_ACK", 2, "--------"), ("SACK", 3, "--------"),
        ("HEARTBEAT", 4, "--------"), ("HEARTBEAT_ACK", 5, "--------"), ("ABORT", 6, "-------T"), ("SHUTDOWN", 7, "--------"),
        ("SHUTDOWN_ACK", 8, "--------"), ("ERROR", 9, "--------"), ("COOKIE_ECHO", 10, "--------"), ("COOKIE_ACK", 11, "--------"),
        ("ECN_ECNE", 12, "--------"), ("ECN_CWR", 13, "--------"), ("SHUTDOWN_COMPLETE", 14, "-------T"), ("I_DATA", 64, "----IUBE"),
        ("RE_CONFIG", 130, "--------"), ("PAD", 132, "--------"), ("ASCONF", 193, "--------"), ("ASCONF_ACK", 128, "--------"),
        ("FORWARD_TSN", 192, "--------"), ("I_FORWARD_TSN", 194, "--------"),
    ];

    protected internal override bool Parse(XtOption o)
    {
        switch (o.Name)
        {
            case "--sport":
            case "--source-port":
                _flags.Take(o, 1);
                SourcePorts = o.PortRange(o.Arg("PORT[:PORT]"), "sctp");
                InvertSourcePorts = o.Invert;
                return true;
            case "--dport":
            case "--destination-port":
                _flags.Take(o, 2);
                DestinationPorts = o.PortRange(o.Arg("PORT[:PORT]"), "sctp");
                InvertDestinationPorts = o.Invert;
                return true;
            case "--chunk-types":
                _flags.Take(o, 4);
                ParseChunkTypes(o);
                InvertChunkTypes = o.Invert;
                return true;
            default:
                return false;
        }
    }

    private void ParseChunkTypes(XtOption o)
    {
        string kind = o.Arg("any, all or only, then the chunk types");
        ChunkMatch = kind.ToUpperInvariant() switch
        {
            "ANY" => SctpChunkMatch.Any,
            "ALL" => SctpChunkMatch.All,
            "ONLY" => SctpChunkMatch.Only,
            _ => throw o.Fail("match type has to be one of ALL, ANY or ONLY", kind, "any, all or only"),
        };
        // sctp_parse takes argv[optind] itself and refuses a word that looks like an option.
        string? list = o.OptionalArg();
        if (list is null || list.StartsWith('-'))
            throw o.Fail("--chunk-types requires two args", list ?? kind, "a chunk type list such as DATA,INIT, ALL or NONE after " + kind);
        if (list.Equals("ALL", StringComparison.OrdinalIgnoreCase))
        {
            Array.Fill(_chunkMap, ulong.MaxValue);
            return;
        }
        if (list.Equals("NONE", StringComparison.OrdinalIgnoreCase))
            return;
        foreach (var item in list.Split(','))
        {
            int colon = item.IndexOf(':', StringComparison.Ordinal);
            string name = colon < 0 ? item : item[..colon];
            int i = Array.FindIndex(ChunkNames, c => c.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (i < 0)
                throw o.Fail("unknown sctp chunk", name, "one of " + string.Join(", ", ChunkNames.Select(c => c.Name)) + ", ALL or NONE");
            byte type = ChunkNames[i].Type;
            _chunkMap[type >> 6] |= 1UL << (type & 63);
            if (colon >= 0)
                ParseChunkFlags(o, i, item[(colon + 1)..]);
        }
    }

    /// <summary>
    /// parse_sctp_chunk/save_chunk_flag_info: upper case sets a flag, lower case clears it. Upstream
    /// records the flags under the chunk's index in its name table, not its type; both agree for
    /// DATA, ABORT and SHUTDOWN_COMPLETE, the chunks with flags before I_DATA. Kept as upstream does.
    /// </summary>
    private void ParseChunkFlags(XtOption o, int index, string letters)
    {
        foreach (char c in letters)
        {
            int pos = ChunkNames[index].Flags.IndexOf(char.ToUpperInvariant(c), StringComparison.Ordinal);
            if (c == '-' || pos < 0)
                throw o.Fail($"invalid flag for chunk type {ChunkNames[index].Name}", c.ToString(), $"flag letters from {ChunkNames[index].Flags.Replace("-", string.Empty, StringComparison.Ordinal)}");
            byte bit = (byte)(1 << (7 - pos));
            bool set = char.IsUpper(c);
            int k = _flagInfo.FindIndex(f => f.ChunkType == index);
            if (k < 0)
            {
                if (_flagInfo.Count == MaxFlagInfos)
                    throw o.Fail($"more than {MaxFlagInfos} chunk types with flags", letters, $"at most {MaxFlagInfos} (XT_NUM_SCTP_FLAGS)");
                _flagInfo.Add(new SctpChunkFlags((byte)index, 0, 0));
                k = _flagInfo.Count - 1;
            }
            var f = _flagInfo[k];
            _flagInfo[k] = f with { Mask = (byte)(f.Mask | bit), Flags = set ? (byte)(f.Flags | bit) : f.Flags };
        }
    }

    /// <summary>The kernel's sctp_mt_reg has .proto = IPPROTO_SCTP.</summary>
    protected internal override void FinalCheck(XtRuleContext rule, XtFinalCheck check) => check.RequireProtocol(Protocols.Sctp);

    /// <summary>sctp_save: every option given is printed (ports even as 0:65535), chunks in type order.</summary>
    public override void Save(SaveWriter w)
    {
        if (SourcePorts is { } s)
            w.Opt("--sport", s, InvertSourcePorts);
        if (DestinationPorts is { } d)
            w.Opt("--dport", d, InvertDestinationPorts);
        if (ChunkMatch is not { } kind)
            return;
        w.Opt("--chunk-types", InvertChunkTypes).Raw(kind switch
        {
            SctpChunkMatch.Any => " any",
            SctpChunkMatch.All => " all",
            _ => " only",
        });
        if (Array.TrueForAll(_chunkMap, v => v == 0))
        {
            w.Raw(" NONE");
            return;
        }
        if (Array.TrueForAll(_chunkMap, v => v == ulong.MaxValue))
        {
            w.Raw(" ALL");
            return;
        }
        var sb = new StringBuilder();
        for (int type = 0; type < 256; type++)
        {
            if (!HasChunk((byte)type))
                continue;
            sb.Append(sb.Length == 0 ? ' ' : ',');
            foreach (var c in ChunkNames)
            {
                if (c.Type == type)
                    sb.Append(c.Name);
            }
            // print_chunks looks the flags up by chunk type and the letters by table index (see ParseChunkFlags).
            foreach (var f in _flagInfo)
            {
                if (f.ChunkType == type && f.Mask != 0)
                {
                    sb.Append(':');
                    for (int bit = 7; bit >= 0; bit--)
                    {
                        if ((f.Mask & (1 << bit)) == 0)
                            continue;
                        char letter = ChunkNames[type].Flags[7 - bit];
                        sb.Append((f.Flags & (1 << bit)) != 0 ? letter : char.ToLowerInvariant(letter));
                    }
                }
            }
        }
        w.Raw(sb.ToString());
    }
}
