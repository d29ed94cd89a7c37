using System.Globalization;
using System.Text;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Ipset;

/// <summary>
/// Writes sets as `ipset save` does (libipset's print.c and the types' print functions): create lines
/// with the options in the order ipset 7 prints them, then the members; list:set sets come last so the
/// output restores. Options a restore input left out are printed with the kernel defaults (hashsize,
/// maxelem, family), bucketsize/initval only when known.
/// </summary>
public static class IpsetPrinter
{
    public static void Save(IpsetRegistry registry, TextWriter w)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(w);
        foreach (var set in registry.Sets.Where(s => s.Type.Method != IpsetMethod.List))
            Save(set, w);
        foreach (var set in registry.Sets.Where(s => s.Type.Method == IpsetMethod.List))
            Save(set, w);
    }

    public static void Save(IpSet set, TextWriter w)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(w);
        w.Write(CreateLine(set));
        w.Write('\n');
        foreach (var e in set.Entries)
        {
            w.Write(AddLine(set, e));
            w.Write('\n');
        }
    }

    public static string CreateLine(IpSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append("create ").Append(set.Name).Append(' ').Append(set.Type.Name);
        switch (set.Type.Method)
        {
            case IpsetMethod.Hash:
                if (!set.Type.FamilyFree)
                    sb.Append(" family ").Append(set.IsV6 ? "inet6" : "inet");
                if (set.Type == IpsetType.HashIpMark)
                    sb.Append(inv, $" markmask 0x{set.MarkMask ?? uint.MaxValue:x8}");
                sb.Append(inv, $" hashsize {set.HashSize ?? 1024} maxelem {set.MaxElem ?? IpSet.DefaultMaxElem}");
                if (set.NetMask is byte nm)
                    sb.Append(inv, $" netmask {nm}");
                break;
            case IpsetMethod.Bitmap:
                if (set.Type == IpsetType.BitmapPort)
                    sb.Append(inv, $" range {set.PortFrom}-{set.PortTo}");
                else
                    sb.Append(inv, $" range {set.RangeFrom}-{set.RangeTo}");
                if (set.NetMask is byte bnm)
                    sb.Append(inv, $" netmask {bnm}");
                break;
            default:
                sb.Append(inv, $" size {set.Size ?? IpSet.DefaultListSize}");
                break;
        }
        if (set.Timeout is uint t)
            sb.Append(inv, $" timeout {t}");
        if (set.Counters)
            sb.Append(" counters");
        if (set.Comment)
            sb.Append(" comment");
        if (set.SkbInfo)
            sb.Append(" skbinfo");
        if (set.ForceAdd)
            sb.Append(" forceadd");
        if (set.BucketSize is uint b)
            sb.Append(inv, $" bucketsize {b}");
        if (set.InitVal is uint iv)
            sb.Append(inv, $" initval 0x{iv:x8}");
        return sb.ToString();
    }

    public static string AddLine(IpSet set, IpsetEntry e)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(e);
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append("add ").Append(set.Name).Append(' ').Append(Element(set, e));
        if (e.Timeout is uint t)
            sb.Append(inv, $" timeout {t}");
        if (e.NoMatch)
            sb.Append(" nomatch");
        if (e.Packets is ulong p)
            sb.Append(inv, $" packets {p} bytes {e.Bytes ?? 0}");
        if (e.Comment is string c)
            sb.Append(" comment \"").Append(c).Append('"');
        if (e.SkbMark is uint m)
        {
            sb.Append(inv, $" skbmark 0x{m:x}");
            if (e.SkbMarkMask != uint.MaxValue)
                sb.Append(inv, $"/0x{e.SkbMarkMask:x}");
        }
        if (e.SkbPrio is uint prio)
            sb.Append(inv, $" skbprio {prio >> 16:x}:{prio & 0xFFFF:x}");
        if (e.SkbQueue is ushort q)
            sb.Append(inv, $" skbqueue {q}");
        return sb.ToString();
    }

    /// <summary>The element as ipset prints it: parts joined by ',' in the type's dimension order.</summary>
    public static string Element(IpSet set, IpsetEntry e)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(e);
        if (set.Type.Method == IpsetMethod.List)
            return e.Member!.Name;
        var inv = CultureInfo.InvariantCulture;
        var el = e.Elem;
        var parts = new List<string>(3);
        int slot = 0;
        foreach (var dim in set.Type.Dims)
        {
            switch (dim)
            {
                case IpsetDim.Ip:
                    parts.Add((slot++ == 0 ? el.Ip : el.Ip2).ToString());
                    break;
                case IpsetDim.Net:
                    {
                        var (a, c) = slot++ == 0 ? (el.Ip, el.Cidr) : (el.Ip2, el.Cidr2);
                        parts.Add(c == (set.IsV6 ? 128 : 32) ? a.ToString() : string.Create(inv, $"{a}/{c}"));
                        break;
                    }
                case IpsetDim.Port:
                    if (set.Type.Method == IpsetMethod.Bitmap)
                        parts.Add(el.Port.ToString(inv));
                    else if (el.Proto is IpsetProtocols.Icmp or IpsetProtocols.IcmpV6)
                        parts.Add(IpsetProtocols.ProtocolName(el.Proto) + ":" + IpsetProtocols.IcmpName(el.Port, el.Proto == IpsetProtocols.IcmpV6));
                    else
                        parts.Add(IpsetProtocols.ProtocolName(el.Proto) + ":" + el.Port.ToString(inv));
                    break;
                case IpsetDim.Iface:
                    parts.Add(el.Physdev ? "physdev:" + el.Iface : el.Iface!);
                    break;
                case IpsetDim.Mac:
                    if (set.Type == IpsetType.BitmapIpMac)
                    {
                        if (e.Mac is MacAddr im)
                            parts.Add(FormatMac(im));
                    }
                    else
                    {
                        parts.Add(FormatMac(new MacAddr(el.Mac)));
                    }
                    break;
                case IpsetDim.Mark:
                    parts.Add(string.Create(inv, $"0x{el.Mark:x8}"));
                    break;
                default:
                    break;
            }
        }
        return string.Join(',', parts);
    }

    // libipset prints MACs with %02X.
    private static string FormatMac(MacAddr mac) => mac.ToString().ToUpperInvariant();
}
