namespace TraceReplay.Host.Ipset;

/// <summary>How a set stores its members: the kernel's three set "methods" (ip_set_hash_gen.h, ip_set_bitmap_gen.h, ip_set_list_set.c).</summary>
public enum IpsetMethod : byte
{
    Hash,
    Bitmap,
    List,
}

/// <summary>
/// What one dimension of an element holds. The type name lists them in order (hash:ip,port,net is
/// Ip, Port, Net), and `--match-set NAME src,dst,dst` picks the packet side of each by position.
/// </summary>
public enum IpsetDim : byte
{
    /// <summary>A host address (after the set's netmask, for hash:ip and bitmap:ip).</summary>
    Ip,
    /// <summary>An address with a prefix length; the lookup tries the most specific prefix first.</summary>
    Net,
    /// <summary>A protocol and port (ICMP type/code for ICMP), as ip_set_get_ip4_port reads them.</summary>
    Port,
    Iface,
    Mac,
    Mark,
    /// <summary>A member set of list:set.</summary>
    Set,
}

/// <summary>
/// A set type as `ipset create NAME TYPE` names it, with the aliases ipset still accepts from its
/// 4.x days (iphash, nethash, …). Mirrors struct ip_set_type (kernel) and struct ipset_type (libipset).
/// </summary>
public sealed class IpsetType
{
    private static readonly Dictionary<string, IpsetType> ByName = new(StringComparer.Ordinal);

    private IpsetType(string name, IpsetMethod method, IpsetDim[] dims, bool familyFree)
    {
        Name = name;
        Method = method;
        Dims = dims;
        FamilyFree = familyFree;
        foreach (var d in dims)
        {
            if (d == IpsetDim.Net)
                NetDims++;
        }
    }

    /// <summary>The canonical name `ipset save` prints.</summary>
    public string Name { get; }

    public IpsetMethod Method { get; }

    public IReadOnlyList<IpsetDim> Dims { get; }

    /// <summary>Number of dimensions that are networks (0..2); such types accept `nomatch`.</summary>
    public int NetDims { get; }

    /// <summary>
    /// True for the types the kernel registers with NFPROTO_UNSPEC (hash:mac, bitmap:port, list:set):
    /// they have no `family` and match packets of either family.
    /// </summary>
    public bool FamilyFree { get; }

    public int Dimension => Dims.Count;

    public static IReadOnlyCollection<IpsetType> All => ByName.Values.Distinct().ToList();

    public static readonly IpsetType HashIp = Register("hash:ip", IpsetMethod.Hash, [IpsetDim.Ip], false, "iphash");
    public static readonly IpsetType HashNet = Register("hash:net", IpsetMethod.Hash, [IpsetDim.Net], false, "nethash");
    public static readonly IpsetType HashIpPort = Register("hash:ip,port", IpsetMethod.Hash, [IpsetDim.Ip, IpsetDim.Port], false, "ipporthash");
    public static readonly IpsetType HashNetPort = Register("hash:net,port", IpsetMethod.Hash, [IpsetDim.Net, IpsetDim.Port], false, "netporthash");
    public static readonly IpsetType HashIpPortIp = Register("hash:ip,port,ip", IpsetMethod.Hash, [IpsetDim.Ip, IpsetDim.Port, IpsetDim.Ip], false, "ipportiphash");
    public static readonly IpsetType HashIpPortNet = Register("hash:ip,port,net", IpsetMethod.Hash, [IpsetDim.Ip, IpsetDim.Port, IpsetDim.Net], false, "ipportnethash");
    public static readonly IpsetType HashNetIface = Register("hash:net,iface", IpsetMethod.Hash, [IpsetDim.Net, IpsetDim.Iface], false, "netifacehash");
    public static readonly IpsetType HashMac = Register("hash:mac", IpsetMethod.Hash, [IpsetDim.Mac], true, "machash");
    public static readonly IpsetType HashNetNet = Register("hash:net,net", IpsetMethod.Hash, [IpsetDim.Net, IpsetDim.Net], false, "netnethash");
    public static readonly IpsetType HashIpMark = Register("hash:ip,mark", IpsetMethod.Hash, [IpsetDim.Ip, IpsetDim.Mark], false, "ipmarkhash");
    public static readonly IpsetType HashNetPortNet = Register("hash:net,port,net", IpsetMethod.Hash, [IpsetDim.Net, IpsetDim.Port, IpsetDim.Net], false, "netportnethash");
    public static readonly IpsetType HashIpMac = Register("hash:ip,mac", IpsetMethod.Hash, [IpsetDim.Ip, IpsetDim.Mac], false, "ipmachash");
    public static readonly IpsetType BitmapIp = Register("bitmap:ip", IpsetMethod.Bitmap, [IpsetDim.Ip], false, "ipmap");
    public static readonly IpsetType BitmapIpMac = Register("bitmap:ip,mac", IpsetMethod.Bitmap, [IpsetDim.Ip, IpsetDim.Mac], false, "macipmap");
    public static readonly IpsetType BitmapPort = Register("bitmap:port", IpsetMethod.Bitmap, [IpsetDim.Port], true, "portmap");
    public static readonly IpsetType ListSet = Register("list:set", IpsetMethod.List, [IpsetDim.Set], true, "setlist");

    public static bool TryGet(string name, out IpsetType type) => ByName.TryGetValue(name, out type!);

    private static IpsetType Register(string name, IpsetMethod method, IpsetDim[] dims, bool familyFree, params string[] aliases)
    {
        var t = new IpsetType(name, method, dims, familyFree);
        ByName[name] = t;
        foreach (var a in aliases)
            ByName[a] = t;
        return t;
    }

    public override string ToString() => Name;
}
