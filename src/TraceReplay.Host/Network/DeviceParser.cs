using System.Globalization;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Network;

/// <summary>
/// Reads devices and their addresses from `ip -j addr` / `ip -j -d link` (the same object shape; addr adds
/// addr_info, -d adds linkinfo) and from the text of `ip addr show` / `ip -4 addr` / `ip link` as users paste it.
/// Mirrors iproute2's ip/ipaddress.c print_linkinfo and print_addrinfo, read backwards.
/// </summary>
public static class DeviceParser
{
    /// <summary>Parses `ip -j addr` or `ip -j -d link` output.</summary>
    public static List<NetDevice> ParseJson(string text, string file)
    {
        var input = JsonInput.Parse(text, file, "ip -j addr");
        var list = new List<NetDevice>(input.Elements.Count);
        for (int i = 0; i < input.Elements.Count; i++)
            list.Add(FromJson(new JsonFields(input.Elements[i], input.Locations[i], "")));
        return list;
    }

    private static NetDevice FromJson(JsonFields f)
    {
        string name = f.RequiredString("ifname");
        MacAddr? mac = null;
        string? address = f.String("address");
        string? linkType = f.String("link_type");
        if (address is not null && (linkType is null or "ether" or "loopback") && address.Length == 17)
            mac = MacAddr.TryParse(address, out var m) ? m : throw f.Error("address", "not a MAC address", address, "xx:xx:xx:xx:xx:xx");
        string? kind = null, slaveKind = null;
        int? vlan = null;
        bool hairpin = false;
        if (f.Child("linkinfo") is { } li)
        {
            kind = li.String("info_kind");
            slaveKind = li.String("info_slave_kind");
            if (slaveKind == "bridge" && li.Child("info_slave_data") is { } slave)
                hairpin = slave.Flag("hairpin");
            if (kind == "vlan" && li.Child("info_data") is { } data)
                vlan = (int?)data.Number("id", 0, 4095);
        }
        var addresses = new List<IfAddress>();
        foreach (var a in f.Objects("addr_info"))
            addresses.Add(AddressFromJson(a, name));
        var (group, groupName) = Group(f.String("group"));
        return new NetDevice
        {
            IfIndex = (int)f.RequiredNumber("ifindex", 0, int.MaxValue),
            Name = name,
            Mac = mac,
            Mtu = (int)(f.Number("mtu", 0, int.MaxValue) ?? 0),
            Kind = kind,
            SlaveKind = slaveKind,
            Master = f.String("master"),
            BridgeHairpin = hairpin,
            VlanId = vlan,
            Link = f.String("link"),
            LinkIndex = (int?)f.Number("link_index", 0, int.MaxValue),
            Flags = f.StringArray("flags"),
            OperState = f.String("operstate"),
            Group = group,
            GroupName = groupName,
            LinkType = linkType,
            Addresses = addresses,
        };
    }

    private static IfAddress AddressFromJson(JsonFields a, string dev)
    {
        string family = a.RequiredString("family");
        bool v6 = family switch
        {
            "inet" => false,
            "inet6" => true,
            _ => throw a.Error("family", "not an IP family", family, "inet or inet6"),
        };
        var local = a.Address("local") ?? throw a.Error("local", "missing", "{", "the address");
        if (local.IsV4 == v6)
            throw a.Error("local", $"not an {family} address", local.ToString(), $"an {family} address");
        int len = (int)a.RequiredNumber("prefixlen", 0, v6 ? 128 : 32);
        var flags = IfaFlags.Permanent;
        if (a.Flag("dynamic"))
            flags &= ~IfaFlags.Permanent;
        foreach (var (word, bit) in FlagWords)
        {
            if (a.Flag(word))
                flags |= bit;
        }
        var peer = a.Address("address");
        if (peer is { } p && p.IsV4 != local.IsV4)
            throw a.Error("address", "the peer's family differs from the local address's", p.ToString(), $"an {family} address");
        return new IfAddress(dev, v6, local, len, peer, a.Address("broadcast"),
            ParseScope(a.String("scope") ?? "global", a, "scope"), a.String("label"), flags);
    }

    /// <summary>The flag words print_ifa_flags writes (JSON keys and text words are the same).</summary>
    private static readonly (string Word, IfaFlags Bit)[] FlagWords =
    [
        ("secondary", IfaFlags.Secondary), ("temporary", IfaFlags.Secondary), ("nodad", IfaFlags.NoDad),
        ("optimistic", IfaFlags.Optimistic), ("dadfailed", IfaFlags.DadFailed), ("home", IfaFlags.HomeAddress),
        ("deprecated", IfaFlags.Deprecated), ("tentative", IfaFlags.Tentative), ("permanent", IfaFlags.Permanent),
        ("mngtmpaddr", IfaFlags.ManageTempAddr), ("noprefixroute", IfaFlags.NoPrefixRoute),
        ("autojoin", IfaFlags.McAutoJoin), ("stable-privacy", IfaFlags.StablePrivacy),
    ];

    private static RtScope ParseScope(string s, JsonFields f, string field) =>
        TryScope(s, out var scope) ? scope : throw f.Error(field, "not a scope", s, "global, site, link, host, nowhere or a number");

    internal static bool TryScope(string s, out RtScope scope)
    {
        scope = s switch
        {
            "global" or "universe" => RtScope.Universe,
            "site" => RtScope.Site,
            "link" => RtScope.Link,
            "host" => RtScope.Host,
            "nowhere" => RtScope.Nowhere,
            _ => (RtScope)255,
        };
        if (scope != RtScope.Nowhere || s == "nowhere")
            return true;
        if (byte.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out byte b))
        {
            scope = (RtScope)b;
            return true;
        }
        return false;
    }

    private static (uint?, string?) Group(string? text)
    {
        if (text is null or "default")
            return (0, text);
        return TextNumbers.TryParseUInt(text, out uint g) ? (g, text) : (null, text);
    }

    /// <summary>Parses the text of `ip addr show` (any family filter) or `ip link show` (with or without -d).</summary>
    /// <param name="warnings">Receives anonymised placeholders (XX:XX:…, [PUBLIC IP HERE]) that were skipped.</param>
    public static List<NetDevice> ParseText(string text, string file, List<ParseWarning>? warnings = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        var devices = new List<NetDevice>();
        NetDevice? current = null;
        List<IfAddress>? addresses = null;
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string raw = lines[n].TrimEnd('\r');
            var line = new TextLine(file, n + 1, raw);
            if (line.Count == 0 || line[0].Text.StartsWith('#'))
                continue;
            bool indented = raw.Length > 0 && char.IsWhiteSpace(raw[0]);
            if (!indented)
            {
                if (current is not null)
                    devices.Add(current with { Addresses = addresses! });
                current = Header(line);
                addresses = [];
                continue;
            }
            if (current is null)
                throw new HostParseException(line.At(line[0]), "an indented line before any interface", line[0].Text, "an interface line `N: NAME: <FLAGS> …`");
            string first = line[0].Text;
            if (first is "inet" or "inet6")
            {
                var a = TextAddress(line, current.Name, warnings);
                if (a is not null)
                    addresses!.Add(a);
            }
            else if (first.StartsWith("link/", StringComparison.Ordinal))
            {
                current = LinkLine(line, current, warnings);
            }
            else if (current.Kind is null && indented && n > 0 && lines[n - 1].TrimStart().StartsWith("link/", StringComparison.Ordinal)
                && first is not ("valid_lft" or "altname" or "prop"))
            {
                // `ip -d link`: the line after link/… starts with the kind (veth, bridge, vlan protocol 802.1Q id 100 …).
                current = DetailLine(line, current);
            }
            else if (first == "bridge_slave" || first == "bond_slave")
            {
                current = current with { SlaveKind = first[..^"_slave".Length] };
            }
            // valid_lft/preferred_lft, altname, and -d detail lines carry nothing the simulator uses.
        }
        if (current is not null)
            devices.Add(current with { Addresses = addresses! });
        return devices;
    }

    private static NetDevice Header(TextLine line)
    {
        // 4: eth0.10@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master br0 state UP group default qlen 1000
        var w = line.Take("N:");
        if (!w.Text.EndsWith(':') || !int.TryParse(w.Text.AsSpan(0, w.Text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out int ifindex))
            throw line.Error(w, "not an interface index", "an interface line `N: NAME: <FLAGS> …`");
        var nameWord = line.Take("NAME:");
        if (!nameWord.Text.EndsWith(':') || nameWord.Text.Length < 2)
            throw line.Error(nameWord, "not an interface name followed by ':'", "NAME: or NAME@LINK:");
        string name = nameWord.Text[..^1];
        string? link = null;
        int at = name.IndexOf('@', StringComparison.Ordinal);
        if (at > 0)
        {
            link = name[(at + 1)..];
            name = name[..at];
            if (link == "NONE")
                link = null;
        }
        var flagsWord = line.Take("<FLAGS>");
        if (!flagsWord.Text.StartsWith('<') || !flagsWord.Text.EndsWith('>'))
            throw line.Error(flagsWord, "not a flag list", "<FLAG,FLAG,…>");
        var flags = flagsWord.Text[1..^1].Split(',', StringSplitOptions.RemoveEmptyEntries);
        int mtu = 0;
        string? master = null, state = null, groupText = null;
        while (!line.AtEnd)
        {
            var k = line.Take("a keyword");
            switch (k.Text)
            {
                case "mtu":
                    mtu = line.Int(line.Value(k, "the MTU"), "the MTU");
                    break;
                case "master":
                    master = line.Value(k, "the master device").Text;
                    break;
                case "state":
                    state = line.Value(k, "the operational state").Text;
                    break;
                case "group":
                    groupText = line.Value(k, "the device group").Text;
                    break;
                case "qdisc" or "qlen" or "mode" or "link-netnsid" or "link-netns" or "netns" or "portid" or "numtxqueues" or "numrxqueues":
                    line.Value(k, "a value");
                    break;
                default:
                    // Later iproute2 versions add words here (e.g. `dynamic`); none changes the forwarding model.
                    break;
            }
        }
        var (group, groupName) = Group(groupText);
        return new NetDevice
        {
            IfIndex = ifindex,
            Name = name,
            Link = link,
            Mtu = mtu,
            Flags = flags,
            Master = master,
            OperState = state,
            Group = group,
            GroupName = groupName,
        };
    }

    private static NetDevice LinkLine(TextLine line, NetDevice dev, List<ParseWarning>? warnings)
    {
        // link/ether 02:42:f7:cb:0f:cd brd ff:ff:ff:ff:ff:ff [link-netnsid 0] [promiscuity 0 …]
        var w = line.Take("link/TYPE");
        string type = w.Text["link/".Length..];
        MacAddr? mac = null;
        if (type is "ether" or "loopback" && line.Peek() is { } macWord)
        {
            line.Take("the MAC address");
            if (MacAddr.TryParse(macWord.Text, out var m))
                mac = m;
            else if (NetParse.IsRedacted(macWord.Text))
                warnings?.Add(new ParseWarning(line.At(macWord), $"anonymised MAC '{macWord.Text}' of {dev.Name} skipped"));
            else
                throw line.Error(macWord, "not a MAC address", "xx:xx:xx:xx:xx:xx");
        }
        return dev with { LinkType = type, Mac = mac };
    }

    private static NetDevice DetailLine(TextLine line, NetDevice dev)
    {
        // `    vlan protocol 802.1Q id 100 <REORDER_HDR> …` or `    veth …` or `    bridge forward_delay …`
        string kind = line[0].Text;
        if (!kind.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            return dev;
        int? vlan = null;
        if (kind == "vlan")
        {
            for (int i = 1; i + 1 < line.Count; i++)
            {
                if (line[i].Text == "id")
                {
                    line.Position = i + 1;
                    vlan = line.Int(line.Take("the VLAN id"), "the VLAN id 0..4095");
                    break;
                }
            }
        }
        return dev with { Kind = kind, VlanId = vlan };
    }

    private static IfAddress? TextAddress(TextLine line, string dev, List<ParseWarning>? warnings)
    {
        // inet 10.9.0.1 peer 10.9.0.2/32 brd 10.9.0.255 scope global secondary dynamic noprefixroute eth0:1
        var fam = line.Take("inet or inet6");
        bool v6 = fam.Text == "inet6";
        var addrWord = line.Take("ADDRESS/PREFIXLEN");
        if (NetParse.IsRedacted(addrWord.Text))
        {
            warnings?.Add(new ParseWarning(line.At(addrWord), $"anonymised address '{addrWord.Text}' of {dev} skipped"));
            return null;
        }
        IpAddr? peer = null;
        int prefixLen;
        IpAddr local;
        if (line.Peek() is { Text: "peer" })
        {
            local = line.Address(addrWord, "the local address");
            var peerKeyword = line.Take("peer");
            var peerWord = line.Value(peerKeyword, "PEER/PREFIXLEN");
            var peerNet = line.Prefix(peerWord, "PEER/PREFIXLEN");
            peer = Unmasked(peerWord.Text);
            prefixLen = peerNet.PrefixLength;
            if (peerNet.IsV6 == local.IsV4)
                throw line.Error(peerWord, "the peer's family differs from the local address's", "a peer of the same family");
        }
        else
        {
            var net = line.Prefix(addrWord, "ADDRESS/PREFIXLEN");
            local = Unmasked(addrWord.Text);
            prefixLen = net.PrefixLength;
        }
        if (local.IsV4 == v6)
            throw line.Error(addrWord, $"not an {fam.Text} address", $"an {fam.Text} address");
        IpAddr? brd = null;
        var scope = RtScope.Universe;
        var flags = IfaFlags.Permanent;
        string? label = null;
        while (!line.AtEnd)
        {
            var k = line.Take("a keyword");
            switch (k.Text)
            {
                case "brd":
                    var b = line.Value(k, "the broadcast address");
                    brd = line.Address(b, "the broadcast address");
                    break;
                case "scope":
                    var s = line.Value(k, "the scope");
                    scope = TryScope(s.Text, out var sc) ? sc : throw line.Error(s, "not a scope", "global, site, link, host, nowhere or a number");
                    break;
                case "dynamic":
                    flags &= ~IfaFlags.Permanent;
                    break;
                case "proto" or "metric" or "anycast" or "flags": // `flags 800`: bits iproute2 has no name for
                    line.Value(k, "a value");
                    break;
                default:
                    int i = Array.FindIndex(FlagWords, f => f.Word == k.Text);
                    if (i >= 0)
                        flags |= FlagWords[i].Bit;
                    else if (line.AtEnd && !v6)
                        label = k.Text; // print_addrinfo ends an IPv4 line with the label
                    else
                        throw line.Error(k, "not an address keyword", "brd, scope, a flag (secondary, dynamic, noprefixroute, …) or the label");
                    break;
            }
        }
        return new IfAddress(dev, v6, local, prefixLen, peer, brd, scope, label, flags);
    }

    /// <summary>The address part of ADDRESS/LEN, unmasked (IpNetwork stores it masked).</summary>
    private static IpAddr Unmasked(string text)
    {
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        NetParse.TryAddress(slash < 0 ? text : text[..slash], out var a);
        return a;
    }
}
