using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Store;

/// <summary>
/// packets' columns filled a column at a time from a handed-over array of <see cref="PacketRecord"/>s
/// (TableBuffer.Columns.cs): each column is one loop of stores over the array, where the row path
/// (<see cref="AppendPacket(TableBuffer, in PacketRecord, string?, string?, string?, string?)"/>)
/// makes ~25 cursor calls per row. The values are exactly the row path's (PacketColumnsTests compares
/// the two buffer by buffer). The keyed columns (run_text ids) are still filled row by row, in the
/// row path's column order, because their ids are handed out the first time a row needs a text.
/// </summary>
public sealed partial class RunWriter
{
    /// <summary>The column indexes of RunSchema.Packets, by name so a reordered schema cannot shift data.</summary>
    private static class P
    {
        public static readonly int Id = Of("id"), PacketId = Of("packet_id"), Ts = Of("ts"), CapturePoint = Of("capture_point"),
            Direction = Of("direction"), Family = Of("family"), Proto = Of("proto"), Src = Of("src"), Dst = Of("dst"),
            Sport = Of("sport"), Dport = Of("dport"), NatSrc = Of("nat_src"), NatDst = Of("nat_dst"), NatSport = Of("nat_sport"),
            NatDport = Of("nat_dport"), Len = Of("len"), CtId = Of("ct_id"), CtState = Of("ct_state"), CtDir = Of("ct_dir"),
            Path = Of("path"), Verdict = Of("verdict"), VerdictRuleId = Of("verdict_rule_id"), DropReason = Of("drop_reason"),
            DependsOnUnknown = Of("depends_on_unknown"), Observed = Of("observed");

        // ENUM codes as TableBuffer.Text stores them: 1-based positions in RunSchema.Enums.
        public static readonly byte In = Code("direction_t", "in"), Out = Code("direction_t", "out"),
            Ipv4 = Code("family_t", "ipv4"), Ipv6 = Code("family_t", "ipv6"), Bridge = Code("family_t", "bridge"),
            New = Code("ct_state_t", "NEW"), Established = Code("ct_state_t", "ESTABLISHED"), Related = Code("ct_state_t", "RELATED"),
            Invalid = Code("ct_state_t", "INVALID"), Untracked = Code("ct_state_t", "UNTRACKED"),
            Original = Code("ct_dir_t", "ORIGINAL"), Reply = Code("ct_dir_t", "REPLY"),
            Accept = Code("verdict_t", "ACCEPT"), Drop = Code("verdict_t", "DROP"), Reject = Code("verdict_t", "REJECT"),
            Queue = Code("verdict_t", "QUEUE"), Stolen = Code("verdict_t", "STOLEN");

        private static int Of(string name) => System.Array.FindIndex(RunSchema.Packets.Columns, c => c.Name == name) is var i and >= 0
            ? i : throw new InvalidOperationException($"packets has no column {name}");

        private static byte Code(string type, string value) => System.Array.IndexOf(RunSchema.EnumValues(type), value) is var i and >= 0
            ? (byte)(i + 1) : throw new InvalidOperationException($"{type} has no value {value}");
    }

    /// <summary>Fills <paramref name="rows"/> into packets' buffer column by column, storing each full batch.</summary>
    private void FillPacketsByColumn(ReadOnlySpan<PacketRecord> rows)
    {
        while (rows.Length > 0)
        {
            var b = _packets.Buffer;
            // A full buffer is stored at once, so there is always room for at least one row.
            int n = Math.Min(rows.Length, _options.BatchRows - b.Rows);
            b.Reserve(n);
            FillPacketColumns(b, rows[..n]);
            b.AdvanceRows(n);
            if (_ids.HasPending)
                WriteTexts();
            if (b.Rows >= _options.BatchRows)
                StoreFilled(_packets);
            rows = rows[n..];
        }
    }

    /// <summary>The columns of <paramref name="rows"/> from the buffer's next row on (the caller then advances its rows).</summary>
    internal void FillPacketColumns(TableBuffer b, ReadOnlySpan<PacketRecord> rows)
    {
        int n = rows.Length;

        // run_text ids first, row by row in the row path's column order: ids go to texts as first needed.
        for (int i = 0; i < n; i++)
        {
            ref readonly var r = ref rows[i];
            b.TextIdAt(P.CapturePoint, i, TextOf(r.CapturePoint));
            if (r.Family == RunFamily.None)
            {
                b.NullAt(P.Src);
                b.NullAt(P.Dst);
                b.NullAt(P.NatSrc);
                b.NullAt(P.NatDst);
            }
            else
            {
                b.AddrKeyAt(P.Src, i, r.Src);
                b.AddrKeyAt(P.Dst, i, r.Dst);
                if (r.HasNat)
                {
                    b.AddrKeyAt(P.NatSrc, i, r.NatSrc);
                    b.AddrKeyAt(P.NatDst, i, r.NatDst);
                }
                else
                {
                    b.NullAt(P.NatSrc);
                    b.NullAt(P.NatDst);
                }
            }
            b.TextIdAt(P.Path, i, TextOf(r.Path));
            b.TextIdAt(P.DropReason, i, TextOf(r.DropReason));
            b.TextIdAt(P.Observed, i, TextOf(r.Observed));
        }

        var id = b.Values<long>(P.Id, n);
        var packetId = b.Values<long>(P.PacketId, n);
        var ts = b.Values<long>(P.Ts, n);
        var len = b.Values<int>(P.Len, n);
        var verdict = b.Codes(P.Verdict, n);
        for (int i = 0; i < n; i++)
        {
            ref readonly var r = ref rows[i];
            id[i] = r.Id;
            packetId[i] = r.PacketId;
            ts[i] = r.TimestampUs;
            len[i] = r.Length;
            verdict[i] = r.Verdict switch
            {
                PacketVerdict.Accept => P.Accept,
                PacketVerdict.Drop => P.Drop,
                PacketVerdict.Reject => P.Reject,
                PacketVerdict.Queue => P.Queue,
                _ => P.Stolen,
            };
        }
        b.AllValid(P.Id, n);
        b.AllValid(P.PacketId, n);
        b.AllValid(P.Ts, n);
        b.AllValid(P.Len, n);
        b.AllValid(P.Verdict, n);

        int r0 = b.Rows;
        var direction = b.Codes(P.Direction, n);
        var directionValid = b.ValidityOf(P.Direction);
        int directionNulls = 0;
        for (int i = 0; i < n; i++)
        {
            byte code = rows[i].Direction switch { SightingDirection.In => P.In, SightingDirection.Out => P.Out, _ => 0 };
            direction[i] = code;
            if (code != 0)
                TableBuffer.SetValid(directionValid, r0 + i);
            else
                directionNulls++;
        }
        b.AddNulls(P.Direction, directionNulls);

        // The IP columns: NULL for a frame with no IP header; the NAT ones also when NAT left it alone.
        var family = b.Codes(P.Family, n);
        var proto = b.Values<byte>(P.Proto, n);
        var sport = b.Values<ushort>(P.Sport, n);
        var dport = b.Values<ushort>(P.Dport, n);
        var natSport = b.Values<ushort>(P.NatSport, n);
        var natDport = b.Values<ushort>(P.NatDport, n);
        var ipValid = b.ValidityOf(P.Family);
        var natValid = b.ValidityOf(P.NatSport);
        int ipNulls = 0, natNulls = 0;
        for (int i = 0; i < n; i++)
        {
            ref readonly var r = ref rows[i];
            bool ip = r.Family != RunFamily.None;
            bool nat = ip && r.HasNat;
            family[i] = r.Family switch
            {
                RunFamily.None => 0,
                RunFamily.Ipv4 => P.Ipv4,
                RunFamily.Ipv6 => P.Ipv6,
                RunFamily.Bridge => P.Bridge,
                _ => throw new InvalidOperationException($"family: '{RunSchema.Family(r.Family)}' is not a value of family_t"),
            };
            proto[i] = r.Protocol;
            sport[i] = r.SrcPort;
            dport[i] = r.DstPort;
            natSport[i] = nat ? r.NatSrcPort : (ushort)0;
            natDport[i] = nat ? r.NatDstPort : (ushort)0;
            if (ip)
                TableBuffer.SetValid(ipValid, r0 + i);
            else
                ipNulls++;
            if (nat)
                TableBuffer.SetValid(natValid, r0 + i);
            else
                natNulls++;
        }
        b.AddNulls(P.Family, ipNulls);
        b.SameValidity(P.Family, [P.Proto, P.Sport, P.Dport], n, ipNulls);
        b.AddNulls(P.NatSport, natNulls);
        b.SameValidity(P.NatSport, [P.NatDport], n, natNulls);

        // Conntrack: an untracked packet has no ct_id or direction, and a state only when INVALID or UNTRACKED.
        var ctId = b.Values<long>(P.CtId, n);
        var ctState = b.Codes(P.CtState, n);
        var ctDir = b.Codes(P.CtDir, n);
        var trackedValid = b.ValidityOf(P.CtId);
        var stateValid = b.ValidityOf(P.CtState);
        int untracked = 0, stateNulls = 0;
        for (int i = 0; i < n; i++)
        {
            ref readonly var r = ref rows[i];
            bool tracked = r.CtId >= 0;
            byte state = tracked
                ? r.CtState switch
                {
                    CtState.New => P.New,
                    CtState.Established => P.Established,
                    CtState.Related => P.Related,
                    CtState.Untracked => P.Untracked,
                    _ => P.Invalid,
                }
                : r.CtState switch
                {
                    CtState.Invalid => P.Invalid,
                    CtState.Untracked => P.Untracked,
                    _ => (byte)0,
                };
            ctId[i] = tracked ? r.CtId : 0;
            ctState[i] = state;
            ctDir[i] = !tracked ? (byte)0 : r.CtDirection == CtDirection.Original ? P.Original : P.Reply;
            if (tracked)
                TableBuffer.SetValid(trackedValid, r0 + i);
            else
                untracked++;
            if (state != 0)
                TableBuffer.SetValid(stateValid, r0 + i);
            else
                stateNulls++;
        }
        b.AddNulls(P.CtId, untracked);
        b.SameValidity(P.CtId, [P.CtDir], n, untracked);
        b.AddNulls(P.CtState, stateNulls);

        var ruleId = b.Values<int>(P.VerdictRuleId, n);
        var ruleValid = b.ValidityOf(P.VerdictRuleId);
        int ruleNulls = 0;
        for (int i = 0; i < n; i++)
        {
            int rule = rows[i].VerdictRuleId;
            ruleId[i] = Math.Max(rule, 0);
            if (rule >= 0)
                TableBuffer.SetValid(ruleValid, r0 + i);
            else
                ruleNulls++;
        }
        b.AddNulls(P.VerdictRuleId, ruleNulls);

        for (int i = 0; i < n; i++)
            b.BoolAt(P.DependsOnUnknown, i, rows[i].DependsOnUnknown);
    }
}
