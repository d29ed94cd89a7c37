using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// Bob Jenkins' lookup3 hash as the kernel has it (include/linux/jhash.h: jhash2, __jhash_mix,
/// __jhash_final, JHASH_INITVAL) and reciprocal_scale (include/linux/kernel.h). find_best_ips_proto
/// hashes addresses with it, unkeyed, so the address a range hands out is the real host's.
/// </summary>
internal static class Jhash
{
    private const uint InitVal = 0xdeadbeef;

    /// <summary>jhash2 over exactly four words (a union nf_inet_addr).</summary>
    public static uint Jhash2(uint k0, uint k1, uint k2, uint k3, uint initval)
    {
        uint a, b, c;
        a = b = c = InitVal + (4u << 2) + initval;
        a += k0;
        b += k1;
        c += k2;
        Mix(ref a, ref b, ref c);
        a += k3;
        Final(ref a, ref b, ref c);
        return c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= BitOperations.RotateLeft(c, 4); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 6); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 8); b += a;
        a -= c; a ^= BitOperations.RotateLeft(c, 16); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 19); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 4); b += a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Final(ref uint a, ref uint b, ref uint c)
    {
        c ^= b; c -= BitOperations.RotateLeft(b, 14);
        a ^= c; a -= BitOperations.RotateLeft(c, 11);
        b ^= a; b -= BitOperations.RotateLeft(a, 25);
        c ^= b; c -= BitOperations.RotateLeft(b, 16);
        a ^= c; a -= BitOperations.RotateLeft(c, 4);
        b ^= a; b -= BitOperations.RotateLeft(a, 14);
        c ^= b; c -= BitOperations.RotateLeft(b, 24);
    }

    /// <summary>reciprocal_scale: maps a 32-bit hash into [0, range) by the high half of the product.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ReciprocalScale(uint value, uint range) => (uint)(((ulong)value * range) >> 32);

    /// <summary>
    /// Word <paramref name="i"/> of the union nf_inet_addr holding <paramref name="a"/>, in host
    /// (ntohl) order: an IPv4 address is word 0 and the rest are zero, as conntrack zeroes the tuple.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HostWord(in IpAddr a, bool v6, int i)
    {
        if (!v6)
            return i == 0 ? a.V4 : 0;
        return i switch
        {
            0 => (uint)(a.Hi >> 32),
            1 => (uint)a.Hi,
            2 => (uint)(a.Lo >> 32),
            _ => (uint)a.Lo,
        };
    }

    /// <summary>
    /// The same word as the kernel loads it from memory to hash it (`(u32 *)&amp;tuple->src.u3`): the
    /// network-order bytes read as a little-endian u32, the byte order of the x86-64 and arm64 hosts
    /// whose snapshots we replay.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint RawWord(in IpAddr a, bool v6, int i) => BinaryPrimitives.ReverseEndianness(HostWord(a, v6, i));

    public static IpAddr FromHostWords(bool v6, uint w0, uint w1, uint w2, uint w3) => v6
        ? new IpAddr(((ulong)w0 << 32) | w1, ((ulong)w2 << 32) | w3)
        : IpAddr.FromV4(w0);
}
