using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// Incremental Internet checksum updates (RFC 1624, HC' = ~(~HC + ~m + m')), as the kernel's
/// csum_replace2/4 and inet_proto_csum_replace2/4/16 (include/net/checksum.h, net/core/utils.c) do
/// when a NAT rewrite changes a few header words. The checksum field is read and written big-endian
/// at its offset in the frame. The packet is taken to carry a complete checksum (ip_summed
/// CHECKSUM_NONE/COMPLETE): a capture cannot say whether the sender left a CHECKSUM_PARTIAL
/// pseudo-header sum for the NIC to finish.
/// </summary>
internal static class InetChecksum
{
    /// <summary>One's-complement sum of 16-bit big-endian words (an odd last byte is padded with zero), unfolded.</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        ulong acc = sum;
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
            acc += BinaryPrimitives.ReadUInt32BigEndian(data[i..]);
        for (; i + 2 <= data.Length; i += 2)
            acc += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if (i < data.Length)
            acc += (uint)data[i] << 8;
        return FoldTo32(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint FoldTo32(ulong acc)
    {
        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        acc = (acc & 0xFFFF_FFFF) + (acc >> 32);
        return (uint)acc;
    }

    /// <summary>csum_fold: 32-bit one's-complement sum to 16 bits, not complemented.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(uint sum)
    {
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Add(uint a, uint b)
    {
        ulong s = (ulong)a + b;
        return (uint)s + (uint)(s >> 32);
    }

    /// <summary>The 32-bit one's-complement sum of a value's two 16-bit halves (as csum_add of a __be32 folds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Words(uint v) => (v >> 16) + (v & 0xFFFF);

    /// <summary>
    /// Replaces a value summed as <paramref name="oldSum"/> with one summed as <paramref name="newSum"/>
    /// in the checksum at <paramref name="at"/>: RFC 1624 equation 3.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ReplaceSum(Span<byte> frame, int at, uint oldSum, uint newSum)
    {
        ushort check = BinaryPrimitives.ReadUInt16BigEndian(frame[at..]);
        uint s = Add(Add((ushort)~check, (ushort)~Fold(oldSum)), Fold(newSum));
        BinaryPrimitives.WriteUInt16BigEndian(frame[at..], (ushort)~Fold(s));
    }

    /// <summary>csum_replace2 / inet_proto_csum_replace2: one 16-bit word changed.</summary>
    public static void Replace2(Span<byte> frame, int at, ushort from, ushort to) => ReplaceSum(frame, at, from, to);

    /// <summary>csum_replace4 / inet_proto_csum_replace4: one 32-bit word (an IPv4 address) changed.</summary>
    public static void Replace4(Span<byte> frame, int at, uint from, uint to) => ReplaceSum(frame, at, Words(from), Words(to));

    /// <summary>inet_proto_csum_replace16: an IPv6 address changed (the pseudo-header of TCP, UDP and ICMPv6).</summary>
    public static void Replace16(Span<byte> frame, int at, in Capture.Decode.IpAddr from, in Capture.Decode.IpAddr to) =>
        ReplaceSum(frame, at, Sum128(from), Sum128(to));

    /// <summary>The sum of a 128-bit address's eight 16-bit words (IPv6 only: an IPv4 address goes through <see cref="Replace4"/>).</summary>
    public static uint Sum128(in Capture.Decode.IpAddr a) =>
        FoldTo32((ulong)Words((uint)(a.Hi >> 32)) + Words((uint)a.Hi) + Words((uint)(a.Lo >> 32)) + Words((uint)a.Lo));

    /// <summary>
    /// SCTP's CRC32c over the whole packet with the checksum field read as zero (sctp_compute_cksum);
    /// SCTP cannot be patched incrementally, so sctp_manip_pkt recomputes it.
    /// </summary>
    public static uint Crc32C(ReadOnlySpan<byte> data, int checksumAt)
    {
        uint crc = 0xFFFF_FFFF;
        for (int i = 0; i < data.Length; i++)
            crc = BitOperations.Crc32C(crc, i >= checksumAt && i < checksumAt + 4 ? (byte)0 : data[i]);
        return ~crc;
    }
}
