using System.Runtime.InteropServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Net;

namespace TraceReplay.Host.Ipset;

/// <summary>
/// One set as the kernel holds it (struct ip_set): its type, create options and members. Hash and
/// bitmap types keep members in a dictionary keyed on <see cref="IpsetElem"/>; types with network
/// dimensions also keep the distinct prefix lengths in use, most specific first, so a packet lookup
/// walks them as mtype_test_cidrs walks h->nets[] (the first, most specific hit decides, and a
/// nomatch hit means "not in set"). list:set keeps its members in order (ip_set_list_set.c).
/// </summary>
public sealed class IpSet
{
    public const uint DefaultMaxElem = 65536;
    public const uint DefaultListSize = 8;

    private static readonly IpAddr[] V4Masks = Enumerable.Range(0, 33).Select(IpNetwork.V4Mask).ToArray();
    private static readonly IpAddr[] V6Masks = Enumerable.Range(0, 129).Select(IpNetwork.V6Mask).ToArray();

    private readonly List<IpsetEntry?> _entries = [];
    private readonly Dictionary<IpsetElem, int> _index = [];
    private readonly List<IpsetEntry> _members = [];

    // hash:net,iface (IP_SET_HASH_WITH_MULTI): how many entries share a network, whatever their interface.
    private readonly Dictionary<(IpAddr, byte), int> _netUse = [];
    private readonly int[][] _cidrUse = [new int[129], new int[129]];
    private readonly byte[][] _cidrs = [[], []];
    private readonly byte[][] _hostCidr = [[32], [32]];
    private readonly IpsetDim[] _dims;
    private readonly bool _ip1IsNet;
    private readonly bool _ip2IsNet;
    private int _count;

    internal IpSet(string name, IpsetType type, bool isV6)
    {
        Name = name;
        Type = type;
        IsV6 = isV6;
        _dims = [.. type.Dims];
        int slot = 0;
        foreach (var d in _dims)
        {
            if (d is IpsetDim.Ip or IpsetDim.Net)
            {
                if (slot == 0)
                    _ip1IsNet = d == IpsetDim.Net;
                else
                    _ip2IsNet = d == IpsetDim.Net;
                slot++;
            }
        }
        byte host = HostCidr;
        _hostCidr = [[host], [host]];
    }

    public string Name { get; internal set; }
    public IpsetType Type { get; }

    /// <summary>family inet6; false for inet and for the family-free types.</summary>
    public bool IsV6 { get; }

    // Create options; null when not given. `ipset save` prints all of them, restore input may omit them.
    public bool FamilyGiven { get; internal set; }
    public uint? HashSize { get; internal set; }
    public uint? MaxElem { get; internal set; }
    public uint? BucketSize { get; internal set; }
    public uint? InitVal { get; internal set; }
    public byte? NetMask { get; internal set; }
    public uint? MarkMask { get; internal set; }
    public uint? Timeout { get; internal set; }
    public bool Counters { get; internal set; }
    public bool Comment { get; internal set; }
    public bool SkbInfo { get; internal set; }
    public bool ForceAdd { get; internal set; }

    /// <summary>list:set `size`.</summary>
    public uint? Size { get; internal set; }

    /// <summary>bitmap:ip / bitmap:ip,mac range (inclusive) as the kernel keeps it: first_ip masked by the netmask, last_ip as given.</summary>
    public IpAddr RangeFrom { get; internal set; }
    public IpAddr RangeTo { get; internal set; }

    /// <summary>bitmap:port range (inclusive).</summary>
    public ushort PortFrom { get; internal set; }
    public ushort PortTo { get; internal set; }

    /// <summary>
    /// When the snapshot was taken on the capture clock (UTC µs): entry timeouts count from here. The
    /// registry sets it for all sets.
    /// </summary>
    public long SnapshotTimeUs { get; set; }

    public int Count => Type.Method == IpsetMethod.List ? _members.Count : _count;

    public uint Capacity => Type.Method == IpsetMethod.List ? Size ?? DefaultListSize : MaxElem ?? DefaultMaxElem;

    /// <summary>The prefix length of an address element: the netmask for hash:ip/bitmap:ip, else a host.</summary>
    internal byte HostCidr => NetMask ?? (byte)(IsV6 ? 128 : 32);

    /// <summary>Members in `ipset save` order: list:set in list order, bitmaps ascending, hashes as added.</summary>
    public IEnumerable<IpsetEntry> Entries
    {
        get
        {
            if (Type.Method == IpsetMethod.List)
                return _members;
            var live = _entries.Where(e => e is not null).Select(e => e!);
            return Type.Method == IpsetMethod.Bitmap
                ? live.OrderBy(e => e.Elem.Ip).ThenBy(e => e.Elem.Port)
                : live;
        }
    }

    internal static IpAddr Mask(IpAddr a, int cidr, bool v6)
    {
        var m = v6 ? V6Masks[cidr] : V4Masks[cidr];
        return new IpAddr(a.Hi & m.Hi, a.Lo & m.Lo);
    }

    internal void RefreshHostCidr()
    {
        byte host = HostCidr;
        _hostCidr[0][0] = host;
        _hostCidr[1][0] = host;
    }

    internal IpsetEntry? Find(in IpsetElem elem) =>
        _index.TryGetValue(elem, out int i) ? _entries[i] : null;

    /// <summary>Adds a new entry; the caller has checked it is absent and the set has room.</summary>
    internal void Insert(IpsetEntry entry)
    {
        _index.Add(entry.Elem, _entries.Count);
        _entries.Add(entry);
        _count++;
        if (Type == IpsetType.HashNetIface)
            _netUse[(entry.Elem.Ip, entry.Elem.Cidr)] = _netUse.GetValueOrDefault((entry.Elem.Ip, entry.Elem.Cidr)) + 1;
        if (_ip1IsNet)
            UseCidr(0, entry.Elem.Cidr, +1);
        if (_ip2IsNet)
            UseCidr(1, entry.Elem.Cidr2, +1);
    }

    internal bool Remove(in IpsetElem elem)
    {
        if (!_index.Remove(elem, out int i))
            return false;
        _entries[i] = null;
        _count--;
        if (Type == IpsetType.HashNetIface && --CollectionsMarshal.GetValueRefOrNullRef(_netUse, (elem.Ip, elem.Cidr)) == 0)
            _netUse.Remove((elem.Ip, elem.Cidr));
        if (_ip1IsNet)
            UseCidr(0, elem.Cidr, -1);
        if (_ip2IsNet)
            UseCidr(1, elem.Cidr2, -1);
        return true;
    }

    internal List<IpsetEntry> Members => _members;

    internal void Flush()
    {
        _entries.Clear();
        _index.Clear();
        _members.Clear();
        _netUse.Clear();
        _count = 0;
        for (int n = 0; n < 2; n++)
        {
            Array.Clear(_cidrUse[n]);
            _cidrs[n] = [];
        }
    }

    // mtype_add_cidr / mtype_del_cidr: the list of prefix lengths in use, longest first.
    private void UseCidr(int n, byte cidr, int delta)
    {
        int before = _cidrUse[n][cidr];
        _cidrUse[n][cidr] = before + delta;
        if ((before == 0) == (before + delta == 0))
            return;
        var list = new List<byte>();
        for (int c = 128; c >= 0; c--)
        {
            if (_cidrUse[n][c] > 0)
                list.Add((byte)c);
        }
        _cidrs[n] = [.. list];
    }

    /// <summary>Whether the packet is in the set, all entries taken as live (no clock).</summary>
    public bool Test(in SetKey key, SetDirections directions) => Test(in key, directions, long.MinValue, false, out _);

    /// <summary>
    /// ip_set_test: whether the packet is in the set at <paramref name="nowUs"/> on the capture clock
    /// (entries whose timeout has run out since <see cref="SnapshotTimeUs"/> are skipped, as the kernel
    /// skips SET_ELEM_EXPIRED entries). <paramref name="nowUs"/> = long.MinValue ignores timeouts.
    /// </summary>
    public bool Test(in SetKey key, SetDirections directions, long nowUs) => Test(in key, directions, nowUs, false, out _);

    /// <summary>
    /// The full `-m set` test. <paramref name="returnNomatch"/> is xt_set's --return-nomatch: for types
    /// with nomatch entries (hash:net*) ip_set_test then inverts — a nomatch entry matches and an ordinary
    /// one does not. <paramref name="entry"/> is the entry that decided (for list:set, the list's member
    /// entry), for counters (--update-counters, --packets-gt …) and skbinfo; null when nothing matched.
    /// </summary>
    public bool Test(in SetKey key, SetDirections directions, long nowUs, bool returnNomatch, out IpsetEntry? entry)
    {
        entry = null;
        if (directions.Dim < Type.Dimension || (!Type.FamilyFree && key.IsV6 != IsV6))
            return false;
        if (Type.Method == IpsetMethod.List)
        {
            // list_set_ktest: the first member set that matches decides; expired members are skipped.
            foreach (var m in _members)
            {
                if (nowUs != long.MinValue && m.IsExpired(nowUs, SnapshotTimeUs))
                    continue;
                if (m.Member!.Test(in key, directions, nowUs, returnNomatch, out _))
                {
                    entry = m;
                    return true;
                }
            }
            return false;
        }
        entry = Lookup(in key, directions, nowUs);
        if (entry is null)
            return false;
        return returnNomatch && Type.NetDims > 0 ? entry.NoMatch : !entry.NoMatch;
    }

    /// <summary>The kadt lookup: the entry that decides for this packet (possibly a nomatch entry), or null.</summary>
    private IpsetEntry? Lookup(in SetKey key, SetDirections directions, long nowUs)
    {
        IpAddr ip1 = default, ip2 = default;
        byte proto = 0;
        ushort port = 0;
        ulong mac = 0;
        uint mark = 0;
        string? iface = null;
        int slot = 0;
        for (int i = 0; i < _dims.Length; i++)
        {
            bool src = directions.IsSrc(i);
            switch (_dims[i])
            {
                case IpsetDim.Ip or IpsetDim.Net:
                    if (slot++ == 0)
                        ip1 = src ? key.Src : key.Dst;
                    else
                        ip2 = src ? key.Src : key.Dst;
                    break;
                case IpsetDim.Port:
                    if (!key.TryGetPort(src, out port))
                        return null;
                    proto = Type.Method == IpsetMethod.Bitmap ? (byte)0 : key.Protocol;
                    if (Type.Method == IpsetMethod.Bitmap && (port < PortFrom || port > PortTo))
                        return null;
                    break;
                case IpsetDim.Iface:
                    iface = src ? key.InIface : key.OutIface;
                    if (string.IsNullOrEmpty(iface))
                        return null;
                    break;
                case IpsetDim.Mac:
                    if (!key.HasMac)
                        return null;
                    mac = (src ? key.SrcMac : key.DstMac).Value;
                    if (mac == 0)
                        return null; // is_zero_ether_addr → -EINVAL
                    break;
                case IpsetDim.Mark:
                    mark = key.Mark & (MarkMask ?? uint.MaxValue);
                    break;
                default:
                    break;
            }
        }

        // bitmap_ip_kadt: an address outside first_ip..last_ip is -IPSET_ERR_BITMAP_RANGE, i.e. no match.
        if (Type.Method == IpsetMethod.Bitmap && slot > 0 && (ip1.CompareTo(RangeFrom) < 0 || ip1.CompareTo(RangeTo) > 0))
            return null;

        if (Type == IpsetType.BitmapIpMac)
            return TestIpMac(ip1, mac, nowUs);

        ReadOnlySpan<byte> cidrs1 = _ip1IsNet ? _cidrs[0] : _hostCidr[0];
        ReadOnlySpan<byte> cidrs2 = slot < 2 ? _hostCidr[1] : _ip2IsNet ? _cidrs[1] : _hostCidr[1];
        bool v6 = IsV6;
        foreach (byte c1 in cidrs1)
        {
            var a1 = slot > 0 ? Mask(ip1, c1, v6) : default;
            foreach (byte c2 in cidrs2)
            {
                var e = new IpsetElem(
                    a1, slot > 0 ? c1 : (byte)0,
                    slot > 1 ? Mask(ip2, c2, v6) : default, slot > 1 ? c2 : (byte)0,
                    proto, port, mac, mark, iface, false);
                if (!_index.TryGetValue(e, out int idx))
                {
                    // hash_netiface data_equal counts a network hit before comparing the interface, and
                    // mtype_test_cidrs stops walking prefixes once that count is non-zero: an entry for
                    // the same network on another interface hides the less specific prefixes.
                    if (_netUse.Count > 0 && _netUse.ContainsKey((e.Ip, e.Cidr)))
                        return null;
                    continue;
                }
                var entry = _entries[idx]!;
                if (nowUs != long.MinValue && entry.IsExpired(nowUs, SnapshotTimeUs))
                    continue;
                return entry;
            }
        }
        return null;
    }

    // bitmap_ipmac_do_test: an entry added without a MAC matches any source and the kernel then
    // learns the MAC (-EAGAIN → IPSET_ADD); the snapshot is read-only here, so it just matches.
    private IpsetEntry? TestIpMac(IpAddr ip, ulong mac, long nowUs)
    {
        var e = new IpsetElem(Mask(ip, HostCidr, IsV6), HostCidr, default, 0, 0, 0, 0, 0, null, false);
        if (!_index.TryGetValue(e, out int idx))
            return null;
        var entry = _entries[idx]!;
        if (nowUs != long.MinValue && entry.IsExpired(nowUs, SnapshotTimeUs))
            return null;
        return entry.Mac is not MacAddr m || m.Value == mac ? entry : null;
    }

    public override string ToString() => $"{Name} {Type.Name} ({Count} entries)";
}
