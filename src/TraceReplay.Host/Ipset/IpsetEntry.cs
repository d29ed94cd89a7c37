using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Ipset;

/// <summary>
/// The hashed part of an element — what the kernel's mtype_data_equal compares. Addresses are held
/// masked to their prefix (<see cref="Cidr"/>, <see cref="Cidr2"/> as 0..32 for IPv4, 0..128 for IPv6),
/// so a lookup masks the packet's address and compares. Fields a type does not use stay zero.
/// </summary>
public readonly record struct IpsetElem(
    IpAddr Ip,
    byte Cidr,
    IpAddr Ip2,
    byte Cidr2,
    byte Proto,
    ushort Port,
    ulong Mac,
    uint Mark,
    string? Iface,
    bool Physdev)
{
    // Hand-written because the generated record members go through EqualityComparer<T> per field and
    // hash the interface name even for types without one: this is the per-packet hot path
    // (mtype_data_equal / HKEY), up to one probe per prefix length in use.
    public bool Equals(IpsetElem other) =>
        Ip.Lo == other.Ip.Lo && Ip.Hi == other.Ip.Hi && Cidr == other.Cidr && Port == other.Port && Proto == other.Proto
        && Ip2.Lo == other.Ip2.Lo && Ip2.Hi == other.Ip2.Hi && Cidr2 == other.Cidr2 && Mac == other.Mac && Mark == other.Mark
        && Physdev == other.Physdev && string.Equals(Iface, other.Iface, StringComparison.Ordinal);

    public override int GetHashCode()
    {
        const ulong K = 0x9E37_79B9_7F4A_7C15UL; // golden-ratio multiplier: spreads low-entropy fields
        ulong h = (Ip.Lo ^ (Ip.Hi * K)) * K;
        h = (h ^ Ip2.Lo ^ (Ip2.Hi * K) ^ ((ulong)Cidr << 56) ^ ((ulong)Cidr2 << 48) ^ ((ulong)Proto << 40) ^ ((ulong)Port << 24)) * K;
        h = (h ^ Mac ^ ((ulong)Mark << 16)) * K;
        int hash = (int)(h >> 32) ^ (int)h;
        return Iface is null ? hash : hash ^ Iface.GetHashCode(StringComparison.Ordinal);
    }
}

/// <summary>
/// One member with its extensions (struct ip_set_ext: timeout, counters, comment, skbinfo) and the
/// nomatch flag of hash:net* types. <see cref="Timeout"/> is the seconds left when the snapshot was
/// taken, as `ipset save` prints it (0: permanent).
/// </summary>
public sealed class IpsetEntry
{
    internal IpsetEntry(IpsetElem elem) => Elem = elem;

    public IpsetElem Elem { get; internal set; }

    /// <summary>bitmap:ip,mac: the MAC, or null when added without one (the kernel fills it on the first packet).</summary>
    public MacAddr? Mac { get; internal set; }

    /// <summary>list:set: the member set.</summary>
    public IpSet? Member { get; internal set; }

    public uint? Timeout { get; internal set; }
    public bool NoMatch { get; internal set; }
    public ulong? Packets { get; internal set; }
    public ulong? Bytes { get; internal set; }
    public string? Comment { get; internal set; }
    public uint? SkbMark { get; internal set; }
    public uint SkbMarkMask { get; internal set; } = uint.MaxValue;
    public uint? SkbPrio { get; internal set; }
    public ushort? SkbQueue { get; internal set; }

    /// <summary>
    /// ip_set_update_counter: a packet of <paramref name="bytes"/> matched this entry (sets without
    /// the counters extension keep none).
    /// </summary>
    public void CountPacket(ulong bytes)
    {
        if (Packets is ulong p)
        {
            Packets = p + 1;
            Bytes = (Bytes ?? 0) + bytes;
        }
    }

    /// <summary>
    /// Whether the entry has timed out at <paramref name="nowUs"/> on the capture clock, the snapshot
    /// having been taken at <paramref name="snapshotUs"/> (ip_set_timeout_expired).
    /// </summary>
    public bool IsExpired(long nowUs, long snapshotUs) =>
        Timeout is uint t && t != 0 && nowUs - snapshotUs >= t * 1_000_000L;
}
