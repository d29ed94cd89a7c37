using System.Numerics;
using System.Runtime.CompilerServices;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Netfilter.Routing;

/// <summary>
/// The input route per flow, remembered: what the kernel gets from the dst early demux attaches to a
/// socket's packets (tcp_v4_early_demux → sk->sk_rx_dst) or from nf_conntrack's cached route, here as a
/// direct-mapped table keyed by everything <see cref="IpRouter.RouteInput"/> reads from its key —
/// source, destination, family, TOS, protocol, mark, input device, packet type and whether the TTL is
/// one (ip_forward's only use of it). The routes, rules and sysctls of a replay never change, so an
/// entry is never invalidated; a colliding flow simply replaces it.
/// </summary>
internal sealed class RouteInputCache
{
    private const int Size = 4096;

    private struct Slot
    {
        public IpAddr Src;
        public IpAddr Dst;
        public string? Dev;
        public uint Mark;
        public uint Small; // family, TOS, protocol, packet type, TTL ≤ 1, valid
        public RouteResult Result;
    }

    private readonly Slot[] _slots = new Slot[Size];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint SmallOf(in RouteKey k) =>
        0x8000_0000u | (k.IsV6 ? 0x4000_0000u : 0) | (k.Ttl is > 0 and <= 1 ? 0x2000_0000u : 0)
        | ((uint)k.PacketType << 16) | ((uint)k.Tos << 8) | k.Protocol;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int IndexOf(in RouteKey k, uint small)
    {
        ulong x = k.Src.Lo + BitOperations.RotateLeft(k.Dst.Lo, 23) + (k.Src.Hi ^ BitOperations.RotateLeft(k.Dst.Hi, 41))
            + ((ulong)k.Mark << 32) + small;
        return (int)((x * 0x9E37_79B9_7F4A_7C15UL) >> (64 - 12));
    }

    /// <summary>The cached result of <paramref name="k"/>, when there is one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(in RouteKey k, out RouteResult result)
    {
        uint small = SmallOf(k);
        ref Slot s = ref _slots[IndexOf(k, small)];
        if (s.Small == small && s.Mark == k.Mark && s.Src == k.Src && s.Dst == k.Dst && string.Equals(s.Dev, k.Dev, StringComparison.Ordinal))
        {
            result = s.Result;
            return true;
        }
        result = default;
        return false;
    }

    public void Add(in RouteKey k, in RouteResult result)
    {
        uint small = SmallOf(k);
        ref Slot s = ref _slots[IndexOf(k, small)];
        s.Src = k.Src;
        s.Dst = k.Dst;
        s.Dev = k.Dev;
        s.Mark = k.Mark;
        s.Small = small;
        s.Result = result;
    }
}
