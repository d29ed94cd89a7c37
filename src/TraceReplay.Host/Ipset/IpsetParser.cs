using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TraceReplay.Capture.Decode;
using TraceReplay.Host.Parsing;

namespace TraceReplay.Host.Ipset;

/// <summary>
/// Reads `ipset save` output and `ipset restore` input line by line into an <see cref="IpsetRegistry"/>,
/// with the checks the kernel and libipset make (lib/parse.c, the *_uadt functions): an input the real
/// tool would refuse is a <see cref="HostParseException"/> naming file:line:column, the word and what
/// was expected. Command and type aliases from ipset 4.x (-N, -A, iphash, --hashsize) are accepted as
/// ipset 7 still accepts them.
/// </summary>
internal sealed class IpsetParser
{
    private const uint MaxTimeout = 2147483; // UINT_MAX / MSEC_PER_SEC, libipset's limit
    private const int MaxNameLength = 31;    // IPSET_MAXNAMELEN - 1
    private const int MaxIfaceLength = 15;   // IFNAMSIZ - 1
    private const int MaxCommentLength = 255; // IPSET_MAX_COMMENT_SIZE
    private const long MaxRange = 1 << 20;    // IPSET_MAX_RANGE: the most elements one add/del may expand to

    private readonly IpsetRegistry _registry;
    private readonly string _file;
    private readonly bool _existAll;
    private List<IpsetToken> _tokens = [];
    private int _line;
    private bool _exist;

    public IpsetParser(IpsetRegistry registry, string file, bool exist)
    {
        _registry = registry;
        _file = file;
        _existAll = exist;
    }

    public void Parse(TextReader reader)
    {
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            _line++;
            if (!ParseLine(line))
                break;
        }
    }

    private SourceLocation At(int column) => new(_file, _line, column);

    private HostParseException Error(IpsetToken token, string problem, string expected) =>
        new(At(token.Column), problem, token.Text, expected);

    private HostParseException Error(IpsetToken token, int offset, string text, string problem, string expected) =>
        new(At(token.Column + offset), problem, text, expected);

    private bool ParseLine(string line)
    {
        _tokens = IpsetTokenizer.Split(line, _file, _line);
        _exist = _existAll;
        // Global options may stand anywhere on a restore line (ipset's parse_commandline).
        _tokens.RemoveAll(t =>
        {
            bool global = t.Text is "-!" or "-exist" or "--exist" or "-q" or "-quiet" or "--quiet";
            if (t.Text is "-!" or "-exist" or "--exist")
                _exist = true;
            return global;
        });
        if (_tokens.Count == 0 || _tokens[0].Text.StartsWith('#'))
            return true;
        var cmd = _tokens[0];
        switch (cmd.Text)
        {
            case "create" or "n" or "new" or "-N" or "--create":
                Create();
                break;
            case "add" or "a" or "-A" or "--add":
                AddOrDel(add: true);
                break;
            case "del" or "d" or "-D" or "--del":
                AddOrDel(add: false);
                break;
            case "destroy" or "x" or "-X" or "--destroy":
                Destroy();
                break;
            case "flush" or "f" or "-F" or "--flush":
                Flush();
                break;
            case "rename" or "e" or "-E" or "--rename":
                Rename();
                break;
            case "swap" or "w" or "-W" or "--swap":
                Swap();
                break;
            case "test" or "t" or "-T" or "--test":
                _registry.AddWarning(new ParseWarning(At(cmd.Column), "'test' line has no effect on the snapshot; ignored"));
                break;
            case "COMMIT":
                // ipset 4.x ended each restore batch with COMMIT; ipset 7 still accepts and ignores it.
                NoMore(1, "end of line");
                break;
            case "quit":
                return false;
            default:
                throw Error(cmd, "unknown ipset command", "create, add, del, destroy, flush, rename or swap");
        }
        return true;
    }

    private IpsetToken Next(ref int i, string what)
    {
        if (i >= _tokens.Count)
        {
            var last = _tokens[^1];
            throw new HostParseException(At(last.Column + last.Text.Length), $"missing {what}", last.Text, what);
        }
        return _tokens[i++];
    }

    private void NoMore(int i, string expected)
    {
        if (i < _tokens.Count)
            throw Error(_tokens[i], "unexpected word", expected);
    }

    private IpSet SetNamed(IpsetToken name)
    {
        return _registry.TryGet(name.Text, out var set)
            ? set
            : throw Error(name, "no set with this name (create it first)", "the name of an existing set");
    }

    private string NewName(IpsetToken name)
    {
        if (name.Text.Length > MaxNameLength || name.Text.StartsWith('-'))
            throw Error(name, "invalid set name", $"a set name of at most {MaxNameLength} characters");
        return name.Text;
    }

    // ---------------------------------------------------------------- create

    private void Create()
    {
        int i = 1;
        var nameTok = Next(ref i, "set name");
        string name = NewName(nameTok);
        var typeTok = Next(ref i, "set type");
        if (!IpsetType.TryGet(typeTok.Text, out var type))
            throw Error(typeTok, "unknown set type", "one of " + string.Join(", ", IpsetType.All.Select(t => t.Name)));

        // The family decides how the other options read, so find it first.
        bool v6 = false, familyGiven = false;
        for (int j = i; j < _tokens.Count; j++)
        {
            string opt = _tokens[j].Text;
            if (opt is "-6" or "-4")
            {
                v6 = opt == "-6";
                familyGiven = true;
            }
            else if (opt.TrimStart('-') == "family")
            {
                if (type.FamilyFree)
                    throw Error(_tokens[j], $"{type.Name} has no family option", "a create option of " + type.Name);
                if (j + 1 >= _tokens.Count)
                    throw Error(_tokens[j], "missing family", "inet or inet6");
                var f = _tokens[j + 1];
                v6 = f.Text switch
                {
                    "inet" or "ipv4" => false,
                    "inet6" or "ipv6" => true,
                    _ => throw Error(f, "unknown family", "inet or inet6"),
                };
                familyGiven = true;
                j++;
            }
        }
        if (type.FamilyFree)
            v6 = false;
        if (v6 && type.Method == IpsetMethod.Bitmap && type != IpsetType.BitmapPort)
            throw Error(typeTok, $"{type.Name} is IPv4 only", "family inet");

        var set = new IpSet(name, type, v6) { FamilyGiven = familyGiven };
        bool hasRange = false;
        IpsetToken? rangeTok = null;
        while (i < _tokens.Count)
        {
            var optTok = _tokens[i++];
            string opt = optTok.Text.StartsWith('-') && optTok.Text.Length > 1 && !char.IsDigit(optTok.Text[1])
                ? optTok.Text.TrimStart('-')
                : optTok.Text;
            switch (opt)
            {
                case "-4" or "-6":
                    break;
                case "family":
                    i++;
                    break;
                case "hashsize" when type.Method == IpsetMethod.Hash:
                    set.HashSize = UInt(Next(ref i, "hash size"), 1, uint.MaxValue);
                    break;
                case "maxelem" when type.Method == IpsetMethod.Hash:
                    set.MaxElem = UInt(Next(ref i, "maximal number of elements"), 1, uint.MaxValue);
                    break;
                case "bucketsize" when type.Method == IpsetMethod.Hash:
                    set.BucketSize = UInt(Next(ref i, "bucket size"), 2, 12);
                    break;
                case "initval" when type.Method == IpsetMethod.Hash:
                    set.InitVal = UInt(Next(ref i, "hash initial value"), 0, uint.MaxValue);
                    break;
                case "probes" or "resize" when type.Method == IpsetMethod.Hash:
                    // ipset 4.x options: ipset 7 warns "Option … is ignored. Please upgrade your syntax."
                    Ignored(optTok, UInt(Next(ref i, opt + " value"), 0, uint.MaxValue).ToString(CultureInfo.InvariantCulture));
                    break;
                case "from" or "to" or "network" when type.Method == IpsetMethod.Hash && type.Dims[0] == IpsetDim.Ip && type != IpsetType.HashIp:
                    Ignored(optTok, Next(ref i, opt + " value").Text);
                    break;
                case "forceadd" when type.Method == IpsetMethod.Hash:
                    set.ForceAdd = true;
                    break;
                case "netmask" when type == IpsetType.HashIp || type == IpsetType.BitmapIp:
                    set.NetMask = (byte)UInt(Next(ref i, "netmask"), 1, v6 ? 128u : 32u);
                    break;
                case "markmask" when type == IpsetType.HashIpMark:
                    set.MarkMask = UInt(Next(ref i, "mark mask"), 1, uint.MaxValue);
                    break;
                case "size" when type.Method == IpsetMethod.List:
                    set.Size = UInt(Next(ref i, "list size"), 1, uint.MaxValue);
                    break;
                case "timeout":
                    set.Timeout = UInt(Next(ref i, "timeout"), 0, MaxTimeout);
                    break;
                case "counters":
                    set.Counters = true;
                    break;
                case "comment":
                    set.Comment = true;
                    break;
                case "skbinfo":
                    set.SkbInfo = true;
                    break;
                case "range" or "network" when type.Method == IpsetMethod.Bitmap:
                    rangeTok = Next(ref i, "range");
                    ParseBitmapRange(set, rangeTok.Value);
                    hasRange = true;
                    break;
                case "from" when type.Method == IpsetMethod.Bitmap:
                    {
                        var from = Next(ref i, "range start");
                        var toOpt = Next(ref i, "--to");
                        if (toOpt.Text.TrimStart('-') != "to")
                            throw Error(toOpt, "--from without --to", "--to");
                        var to = Next(ref i, "range end");
                        ParseBitmapRange(set, new IpsetToken(from.Text + "-" + to.Text, from.Column));
                        hasRange = true;
                        break;
                    }
                default:
                    throw Error(optTok, $"not a create option of {type.Name}", CreateOptions(type));
            }
        }
        if (type.Method == IpsetMethod.Bitmap && !hasRange)
            throw Error(typeTok, $"{type.Name} needs a range", "range FROM-TO or range NET/CIDR");
        if (set.NetMask is byte nm && type == IpsetType.BitmapIp)
        {
            set.RangeFrom = IpSet.Mask(set.RangeFrom, nm, false);
            set.RangeTo = new IpAddr(set.RangeTo.Hi, set.RangeTo.Lo | (~IpSet.Mask(IpAddr.FromV4(uint.MaxValue), nm, false).Lo & 0xFFFF_FFFFUL));
            ulong blocks = ((ulong)set.RangeTo.V4 - set.RangeFrom.V4 + 1) >> (32 - nm);
            if (blocks > 65536)
                throw Error(rangeTok ?? typeTok, "range too large for a bitmap (at most 65536 entries)", "a smaller range or a larger netmask");
        }
        else if (type.Method == IpsetMethod.Bitmap && type != IpsetType.BitmapPort
                 && (ulong)set.RangeTo.V4 - set.RangeFrom.V4 + 1 > 65536)
        {
            throw Error(rangeTok ?? typeTok, "range too large for a bitmap (at most 65536 entries)", "a range of at most a /16");
        }
        set.RefreshHostCidr();

        if (_registry.TryGet(name, out var existing))
        {
            // ip_set_create: -exist makes re-creating the same set (same type, family and same_set
            // options) a no-op; anything else is an error.
            if (_exist && existing.Type == type && existing.IsV6 == v6 && SameSet(existing, set))
                return;
            throw Error(nameTok, "a set with this name already exists", "a new set name");
        }
        _registry.AddSet(set);
    }

    /// <summary>The types' same_set: what must agree for `create -exist` to accept an existing set.</summary>
    private static bool SameSet(IpSet a, IpSet b) =>
        a.Timeout == b.Timeout && a.Counters == b.Counters && a.Comment == b.Comment && a.SkbInfo == b.SkbInfo
        && a.Capacity == b.Capacity && a.NetMask == b.NetMask && (a.MarkMask ?? uint.MaxValue) == (b.MarkMask ?? uint.MaxValue)
        && a.RangeFrom == b.RangeFrom && a.RangeTo == b.RangeTo && a.PortFrom == b.PortFrom && a.PortTo == b.PortTo;

    private void Ignored(IpsetToken option, string value) =>
        _registry.AddWarning(new ParseWarning(At(option.Column), $"option '{option.Text} {value}' is ignored (ipset 4.x syntax)"));

    private static string CreateOptions(IpsetType type) => type.Method switch
    {
        IpsetMethod.Hash => "family, hashsize, maxelem, bucketsize, initval, timeout, counters, comment, skbinfo, forceadd"
            + (type == IpsetType.HashIp ? ", netmask" : "") + (type == IpsetType.HashIpMark ? ", markmask" : ""),
        IpsetMethod.Bitmap => "range, timeout, counters, comment, skbinfo" + (type == IpsetType.BitmapIp ? ", netmask" : ""),
        _ => "size, timeout, counters, comment, skbinfo",
    };

    private void ParseBitmapRange(IpSet set, IpsetToken tok)
    {
        if (set.Type == IpsetType.BitmapPort)
        {
            var (_, from, to) = ParsePortSpec(tok, 0, tok.Text, false, bitmap: true);
            set.PortFrom = from;
            set.PortTo = to;
            return;
        }
        var (lo, hi, cidr) = ParseAddress(tok, 0, tok.Text, false);
        if (cidr >= 0)
        {
            lo = IpSet.Mask(lo, cidr, false);
            hi = new IpAddr(lo.Hi, lo.Lo | ((1UL << (32 - cidr)) - 1));
        }
        set.RangeFrom = lo;
        set.RangeTo = hi;
    }

    private uint UInt(IpsetToken tok, uint min, uint max)
    {
        var s = tok.Text.AsSpan();
        bool ok = s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(s[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint v)
            : uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out v);
        if (!ok || v < min || v > max)
            throw Error(tok, ok ? "number out of range" : "not a number", $"a number in {min}-{max}");
        return v;
    }

    private ulong ULong(IpsetToken tok)
    {
        return ulong.TryParse(tok.Text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v)
            ? v
            : throw Error(tok, "not a number", "a counter value (decimal)");
    }

    // ---------------------------------------------------------------- add / del

    private void AddOrDel(bool add)
    {
        int i = 1;
        var set = SetNamed(Next(ref i, "set name"));
        var elemTok = Next(ref i, "element");
        var proto = new IpsetEntry(default);
        bool timeoutGiven = false, packetsGiven = false, bytesGiven = false;
        IpsetToken? before = null, after = null;
        while (i < _tokens.Count)
        {
            var optTok = _tokens[i++];
            switch (optTok.Text.TrimStart('-'))
            {
                case "timeout":
                    RequireExt(set.Timeout is not null, optTok, "timeout");
                    proto.Timeout = UInt(Next(ref i, "timeout"), 0, MaxTimeout);
                    timeoutGiven = true;
                    break;
                case "packets":
                    RequireExt(set.Counters, optTok, "counters");
                    proto.Packets = ULong(Next(ref i, "packet count"));
                    packetsGiven = true;
                    break;
                case "bytes":
                    RequireExt(set.Counters, optTok, "counters");
                    proto.Bytes = ULong(Next(ref i, "byte count"));
                    bytesGiven = true;
                    break;
                case "comment":
                    {
                        RequireExt(set.Comment, optTok, "comment");
                        var c = Next(ref i, "comment text");
                        if (c.Text.Length > MaxCommentLength)
                            throw Error(c, "comment too long", $"at most {MaxCommentLength} characters");
                        proto.Comment = c.Text;
                        break;
                    }
                case "skbmark":
                    {
                        RequireExt(set.SkbInfo, optTok, "skbinfo");
                        var t = Next(ref i, "skbmark");
                        int slash = t.Text.IndexOf('/');
                        proto.SkbMark = UInt(slash < 0 ? t : new IpsetToken(t.Text[..slash], t.Column), 0, uint.MaxValue);
                        if (slash >= 0)
                            proto.SkbMarkMask = UInt(new IpsetToken(t.Text[(slash + 1)..], t.Column + slash + 1), 0, uint.MaxValue);
                        break;
                    }
                case "skbprio":
                    {
                        RequireExt(set.SkbInfo, optTok, "skbinfo");
                        var t = Next(ref i, "skbprio");
                        int colon = t.Text.IndexOf(':');
                        if (colon < 0
                            || !ushort.TryParse(t.Text.AsSpan(0, colon), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort major)
                            || !ushort.TryParse(t.Text.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort minor))
                            throw Error(t, "invalid skbprio", "MAJOR:MINOR (hexadecimal tc class)");
                        proto.SkbPrio = ((uint)major << 16) | minor;
                        break;
                    }
                case "skbqueue":
                    RequireExt(set.SkbInfo, optTok, "skbinfo");
                    proto.SkbQueue = (ushort)UInt(Next(ref i, "skbqueue"), 0, ushort.MaxValue);
                    break;
                case "nomatch":
                    if (set.Type.NetDims == 0)
                        throw Error(optTok, $"{set.Type.Name} has no nomatch flag", "an option of " + set.Type.Name);
                    proto.NoMatch = true;
                    break;
                case "before" or "after" when set.Type.Method == IpsetMethod.List:
                    if (before is not null || after is not null)
                        throw Error(optTok, "both before and after given", "one of before/after");
                    if (optTok.Text.TrimStart('-') == "before")
                        before = Next(ref i, "set name");
                    else
                        after = Next(ref i, "set name");
                    break;
                default:
                    throw Error(optTok, "not an element option", "timeout, packets, bytes, comment, skbmark, skbprio, skbqueue"
                        + (set.Type.NetDims > 0 ? ", nomatch" : "") + (set.Type.Method == IpsetMethod.List ? ", before, after" : ""));
            }
        }
        if (packetsGiven != bytesGiven)
            throw Error(_tokens[^1], "packets and bytes must be given together", packetsGiven ? "bytes N" : "packets N");
        if (set.Timeout is uint defaultTimeout && !timeoutGiven)
            proto.Timeout = defaultTimeout;
        if (set.Counters && !packetsGiven)
        {
            proto.Packets = 0;
            proto.Bytes = 0;
        }

        if (set.Type.Method == IpsetMethod.List)
        {
            // ipset 6 spelled the position inside the element: NAME,before,REF or NAME,after,REF.
            var parts = elemTok.Text.Split(',');
            if (parts.Length == 3 && parts[1] is "before" or "after" && before is null && after is null)
            {
                var refTok = new IpsetToken(parts[2], elemTok.Column + parts[0].Length + parts[1].Length + 2);
                ListAddOrDel(set, add, new IpsetToken(parts[0], elemTok.Column), proto, refTok, parts[1] == "before");
                return;
            }
            ListAddOrDel(set, add, elemTok, proto, before ?? after, before is not null);
            return;
        }

        bool zeroForbidden = set.Type == IpsetType.HashIp || set.Type == IpsetType.HashIpPort;
        foreach (var (elem, mac) in Expand(set, elemTok))
        {
            // hash_ip4/6_uadt and hash_ipport: an all-zero address cannot be stored ("Null-valued element").
            if (add && zeroForbidden && (elem.Ip.IsV4 ? elem.Ip.V4 == 0 : elem.Ip == default))
                throw Error(elemTok, "null-valued element cannot be stored in a hash set", "a non-zero address");
            var existing = set.Find(elem);
            if (!add)
            {
                if (existing is null)
                {
                    if (_exist)
                        continue;
                    throw Error(elemTok, "element is not in the set", "an element of set " + set.Name);
                }
                set.Remove(elem);
                continue;
            }
            if (existing is not null)
            {
                // bitmap_ipmac_do_add: giving the MAC of an element added without one fills it in.
                if (existing.Mac is null && mac is not null && !_exist)
                {
                    existing.Mac = mac;
                    continue;
                }
                if (!_exist)
                    throw Error(elemTok, "element is already in the set", "a new element (or -exist)");
                CopyExtensions(proto, existing);
                existing.Mac = mac ?? existing.Mac;
                continue;
            }
            if (set.Count >= set.Capacity)
                throw Error(elemTok, $"set {set.Name} is full (maxelem {set.Capacity})", "fewer elements or a larger maxelem");
            var entry = new IpsetEntry(elem) { Mac = mac };
            CopyExtensions(proto, entry);
            set.Insert(entry);
        }
    }

    private void RequireExt(bool present, IpsetToken tok, string ext)
    {
        if (!present)
            throw Error(tok, $"the set was created without {ext} support", $"a set created with '{ext}'");
    }

    private static void CopyExtensions(IpsetEntry from, IpsetEntry to)
    {
        to.Timeout = from.Timeout;
        to.NoMatch = from.NoMatch;
        to.Packets = from.Packets;
        to.Bytes = from.Bytes;
        to.Comment = from.Comment;
        to.SkbMark = from.SkbMark;
        to.SkbMarkMask = from.SkbMarkMask;
        to.SkbPrio = from.SkbPrio;
        to.SkbQueue = from.SkbQueue;
    }

    private void ListAddOrDel(IpSet list, bool add, IpsetToken elemTok, IpsetEntry proto, IpsetToken? refTok, bool before)
    {
        var members = list.Members;
        if (!_registry.TryGet(elemTok.Text, out var member))
            throw Error(elemTok, "no set with this name to list", "the name of an existing set");
        if (member.Type.Method == IpsetMethod.List)
            throw Error(elemTok, "a list:set cannot hold another list:set", "a hash or bitmap set");
        int at = members.FindIndex(e => e.Member == member);
        int refAt = -1;
        if (refTok is IpsetToken r)
        {
            refAt = members.FindIndex(e => e.Member!.Name == r.Text);
            if (refAt < 0)
                throw Error(r, "the reference set is not in the list", "a member of " + list.Name);
        }
        if (!add)
        {
            if (at < 0 || (refAt >= 0 && at != (before ? refAt - 1 : refAt + 1)))
            {
                if (_exist)
                    return;
                throw Error(elemTok, "set is not in the list", "a member of " + list.Name);
            }
            members.RemoveAt(at);
            return;
        }
        if (at >= 0)
        {
            if (!_exist)
                throw Error(elemTok, "set is already in the list", "a new member (or -exist)");
            CopyExtensions(proto, members[at]);
            return;
        }
        if (members.Count >= list.Capacity)
            throw Error(elemTok, $"list {list.Name} is full (size {list.Capacity})", "a larger size");
        var entry = new IpsetEntry(default) { Member = member };
        CopyExtensions(proto, entry);
        members.Insert(refAt < 0 ? members.Count : before ? refAt : refAt + 1, entry);
    }

    // ---------------------------------------------------------------- elements

    private readonly record struct IpPart(IpAddr Lo, IpAddr Hi, int Cidr);

    /// <summary>
    /// Expands one element word into the elements the kernel would store: ranges and CIDRs of host
    /// dimensions into single addresses (stepping by the netmask), ranges of network dimensions into
    /// CIDR blocks (ip_set_range_to_cidr), port ranges into ports. Stops at the set's capacity, as the
    /// kernel would fail there.
    /// </summary>
    private IEnumerable<(IpsetElem Elem, MacAddr? Mac)> Expand(IpSet set, IpsetToken tok)
    {
        var type = set.Type;
        var parts = tok.Text.Split(',');
        int minParts = type == IpsetType.BitmapIpMac ? 1 : type.Dimension;
        if (parts.Length < minParts || parts.Length > type.Dimension)
            throw Error(tok, $"{type.Name} element has {parts.Length} part(s)", ElementSyntax(type));
        var offsets = new int[parts.Length];
        for (int p = 1; p < parts.Length; p++)
            offsets[p] = offsets[p - 1] + parts[p - 1].Length + 1;

        bool v6 = set.IsV6;
        var ips = new List<IpPart>(2);
        byte proto = 0;
        ushort portLo = 0, portHi = 0;
        ulong mac = 0;
        MacAddr? ipMac = null;
        uint mark = 0;
        string? iface = null;
        bool physdev = false;
        for (int p = 0; p < parts.Length; p++)
        {
            string part = parts[p];
            int off = offsets[p];
            if (part.Length == 0)
                throw Error(tok, off, part, "empty element part", ElementSyntax(type));
            switch (type.Dims[p])
            {
                case IpsetDim.Ip:
                    ips.Add(HostPart(set, tok, off, part, first: ips.Count == 0));
                    break;
                case IpsetDim.Net:
                    ips.Add(NetPart(set, tok, off, part));
                    break;
                case IpsetDim.Port:
                    (proto, portLo, portHi) = ParsePortSpec(tok, off, part, v6, type.Method == IpsetMethod.Bitmap);
                    if (type.Method == IpsetMethod.Bitmap && (portLo < set.PortFrom || portHi > set.PortTo))
                        throw Error(tok, off, part, "port outside the set's range", $"a port in {set.PortFrom}-{set.PortTo}");
                    break;
                case IpsetDim.Iface:
                    iface = part;
                    if (iface.StartsWith("physdev:", StringComparison.Ordinal))
                    {
                        physdev = true;
                        iface = iface["physdev:".Length..];
                    }
                    if (iface.Length is 0 or > MaxIfaceLength)
                        throw Error(tok, off, part, "invalid interface name", $"an interface name of 1-{MaxIfaceLength} characters");
                    break;
                case IpsetDim.Mac:
                    if (!TryParseMac(part, out var m))
                        throw Error(tok, off, part, "invalid MAC address", "a MAC address like 00:11:22:33:44:55");
                    // hash_mac4_uadt / hash_ipmac: an all-zero MAC is -EINVAL.
                    if (m.Value == 0 && type != IpsetType.BitmapIpMac)
                        throw Error(tok, off, part, "all-zero MAC address", "a non-zero MAC address");
                    if (type == IpsetType.BitmapIpMac)
                        ipMac = m;
                    else
                        mac = m.Value;
                    break;
                case IpsetDim.Mark:
                    mark = UInt(new IpsetToken(part, tok.Column + off), 0, uint.MaxValue) & (set.MarkMask ?? uint.MaxValue);
                    break;
                default:
                    break;
            }
        }

        // Host parts expand to addresses, net parts to CIDR blocks; then the product with the ports.
        IEnumerable<(IpAddr, byte)> none = [(default, 0)];
        var first = ips.Count > 0 ? Blocks(set, type.Dims[0] == IpsetDim.Net, ips[0]) : none;
        long count = 0;
        foreach (var (a1, c1) in first)
        {
            var second = ips.Count > 1 ? Blocks(set, LastAddressDimIsNet(type), ips[1]) : none;
            foreach (var (a2, c2) in second)
            {
                for (uint port = portLo; port <= portHi; port++)
                {
                    if (++count > MaxRange)
                        throw Error(tok, $"the element expands to more than {MaxRange} elements", "a smaller range");
                    if (count > set.Capacity + 1L)
                        throw Error(tok, $"the element expands past the set's capacity ({set.Capacity})", "a smaller range or a larger maxelem");
                    yield return (new IpsetElem(a1, c1, a2, c2, proto, (ushort)port, mac, mark, iface, physdev), ipMac);
                }
            }
        }
    }

    /// <summary>ether_aton: six groups of one or two hex digits (ipset accepts 0:1:2:3:4:5).</summary>
    internal static bool TryParseMac(string text, out MacAddr mac)
    {
        mac = default;
        var groups = text.Split(':');
        if (groups.Length != 6)
            return false;
        ulong v = 0;
        foreach (var g in groups)
        {
            if (g.Length is 0 or > 2 || !byte.TryParse(g, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
                return false;
            v = (v << 8) | b;
        }
        mac = new MacAddr(v);
        return true;
    }

    private static bool LastAddressDimIsNet(IpsetType type)
    {
        for (int d = type.Dimension - 1; d >= 0; d--)
        {
            if (type.Dims[d] is IpsetDim.Ip or IpsetDim.Net)
                return type.Dims[d] == IpsetDim.Net;
        }
        return false;
    }

    private static IEnumerable<(IpAddr, byte)> Blocks(IpSet set, bool net, IpPart part)
    {
        bool v6 = set.IsV6;
        if (net)
        {
            if (part.Cidr >= 0 || v6)
            {
                yield return (part.Lo, (byte)part.Cidr);
                yield break;
            }
            // ip_set_range_to_cidr: the largest aligned block (at most a /1) that starts at lo and stays within hi.
            ulong lo = part.Lo.V4, hi = part.Hi.V4;
            while (lo <= hi)
            {
                int prefix = 32;
                while (prefix > 1)
                {
                    ulong size = 1UL << (33 - prefix);
                    if ((lo & (size - 1)) != 0 || lo + size - 1 > hi)
                        break;
                    prefix--;
                }
                yield return (IpAddr.FromV4((uint)lo), (byte)prefix);
                lo += 1UL << (32 - prefix);
            }
            yield break;
        }
        byte host = set.HostCidr;
        if (v6)
        {
            yield return (IpSet.Mask(part.Lo, host, true), host);
            yield break;
        }
        ulong step = 1UL << (32 - host);
        for (ulong a = IpSet.Mask(part.Lo, host, false).V4; a <= part.Hi.V4; a += step)
            yield return (IpAddr.FromV4((uint)a), host);
    }

    private IpPart HostPart(IpSet set, IpsetToken tok, int off, string part, bool first)
    {
        var (lo, hi, cidr) = ParseAddress(tok, off, part, set.IsV6);
        if (cidr >= 0 || lo != hi)
        {
            // hash:ip & co take ranges and CIDRs on the first address, IPv4 only (libipset: "plain IP address must be supplied").
            if (set.IsV6 || !first)
                throw Error(tok, off, part, "a plain address is required here", "an address without /CIDR or range");
            if (cidr >= 0)
            {
                lo = IpSet.Mask(lo, cidr, false);
                hi = new IpAddr(lo.Hi, lo.Lo | ((1UL << (32 - cidr)) - 1));
            }
        }
        if (set.Type.Method == IpsetMethod.Bitmap && (lo.CompareTo(set.RangeFrom) < 0 || hi.CompareTo(set.RangeTo) > 0))
            throw Error(tok, off, part, "address outside the set's range", $"an address in {set.RangeFrom}-{set.RangeTo}");
        return new IpPart(lo, hi, -1);
    }

    private IpPart NetPart(IpSet set, IpsetToken tok, int off, string part)
    {
        var (lo, hi, cidr) = ParseAddress(tok, off, part, set.IsV6);
        int host = set.IsV6 ? 128 : 32;
        // Only hash:net,iface and hash:net,port,net take a /0 (the other *_uadt reject a zero CIDR).
        if (cidr == 0 && set.Type != IpsetType.HashNetIface && set.Type != IpsetType.HashNetPortNet)
            throw Error(tok, off, part, "prefix length 0 is not allowed in this set type", $"a prefix length of 1-{host}");
        if (lo != hi)
            return new IpPart(lo, hi, -1); // an IPv4 range: split into CIDR blocks
        if (cidr < 0)
            cidr = host;
        return new IpPart(IpSet.Mask(lo, cidr, set.IsV6), default, cidr);
    }

    /// <summary>Parses ADDR, ADDR/CIDR or (IPv4) FROM-TO in the set's family. Cidr is -1 without a /CIDR.</summary>
    private (IpAddr Lo, IpAddr Hi, int Cidr) ParseAddress(IpsetToken tok, int off, string text, bool v6)
    {
        string expected = v6 ? "an IPv6 address, optionally /CIDR" : "an IPv4 address, optionally /CIDR or FROM-TO";
        int slash = text.IndexOf('/');
        int dash = text.IndexOf('-');
        if (slash >= 0 && dash >= 0)
            throw Error(tok, off, text, "both a range and a prefix length", expected);
        if (dash >= 0)
        {
            if (v6)
                throw Error(tok, off, text, "address ranges are IPv4 only", "an IPv6 address or NET/CIDR");
            var lo = OneAddress(tok, off, text[..dash], v6, expected);
            var hi = OneAddress(tok, off + dash + 1, text[(dash + 1)..], v6, expected);
            return lo.CompareTo(hi) <= 0 ? (lo, hi, -1) : (hi, lo, -1); // libipset swaps a reversed range
        }
        var a = OneAddress(tok, off, slash < 0 ? text : text[..slash], v6, expected);
        if (slash < 0)
            return (a, a, -1);
        string c = text[(slash + 1)..];
        int max = v6 ? 128 : 32;
        if (!int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out int cidr) || cidr > max)
            throw Error(tok, off + slash + 1, c, "invalid prefix length", $"a prefix length of 0-{max}");
        return (a, a, cidr);
    }

    private IpAddr OneAddress(IpsetToken tok, int off, string text, bool v6, string expected)
    {
        // libipset resolves with getaddrinfo, which takes inet_aton's short forms (10.1 = 10.0.0.1, 0 =
        // 0.0.0.0) but never a scope id; host names are refused here (a snapshot is not resolved).
        if (text.Length == 0 || text.Contains('%', StringComparison.Ordinal) || !IPAddress.TryParse(text, out var ip)
            || (ip.AddressFamily == AddressFamily.InterNetwork && !text.All(ch => char.IsAsciiDigit(ch) || ch == '.')))
            throw Error(tok, off, text, "invalid address", expected);
        bool isV6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
        if (isV6 != v6)
            throw Error(tok, off, text, v6 ? "IPv4 address in a family inet6 set" : "IPv6 address in a family inet set", expected);
        return IpAddr.FromIPAddress(ip);
    }

    /// <summary>libipset's parse_proto_port: [PROTO:]PORT[-PORT], ICMP names or TYPE/CODE, PROTO:0 for portless protocols.</summary>
    private (byte Proto, ushort Lo, ushort Hi) ParsePortSpec(IpsetToken tok, int off, string text, bool v6, bool bitmap)
    {
        int colon = text.IndexOf(':');
        byte proto = IpsetProtocols.Tcp;
        string portText = text;
        int portOff = off;
        if (colon >= 0)
        {
            string protoText = text[..colon];
            if (!IpsetProtocols.TryParseProtocol(protoText, out proto))
                throw Error(tok, off, protoText, "unknown protocol", "tcp, udp, sctp, udplite, icmp, icmpv6 or a protocol name/number");
            portText = text[(colon + 1)..];
            portOff = off + colon + 1;
        }
        if (proto is IpsetProtocols.Icmp or IpsetProtocols.IcmpV6 && !bitmap)
        {
            bool icmp6 = proto == IpsetProtocols.IcmpV6;
            if (icmp6 != v6)
                throw Error(tok, off, text, icmp6 ? "ICMPv6 in a family inet set" : "ICMP in a family inet6 set", icmp6 ? "icmp:TYPE" : "icmpv6:TYPE");
            if (!IpsetProtocols.TryParseIcmp(portText, icmp6, out ushort typeCode))
                throw Error(tok, portOff, portText, "unknown ICMP type", "an ICMP type name (echo-request, …) or TYPE/CODE");
            return (proto, typeCode, typeCode);
        }
        if (!bitmap && !IpsetProtocols.HasPorts(proto))
        {
            if (portText != "0")
                throw Error(tok, portOff, portText, $"protocol {IpsetProtocols.ProtocolName(proto)} has no ports", "pseudo port 0");
            return (proto, 0, 0);
        }
        int dash = portText.IndexOf('-');
        ushort lo = Port(tok, portOff, dash < 0 ? portText : portText[..dash]);
        ushort hi = dash < 0 ? lo : Port(tok, portOff + dash + 1, portText[(dash + 1)..]);
        if (lo > hi)
            (lo, hi) = (hi, lo);
        return (bitmap ? (byte)0 : proto, lo, hi);
    }

    private ushort Port(IpsetToken tok, int off, string text)
    {
        if (IpsetProtocols.TryParseService(text, out ushort port))
            return port;
        bool number = text.Length > 0 && text.All(char.IsAsciiDigit);
        throw Error(tok, off, text, number ? "port out of range" : "invalid port", "a port number 0-65535 or a service name");
    }

    private static string ElementSyntax(IpsetType type) => type.Name switch
    {
        "hash:ip" or "bitmap:ip" => "IP, IP/CIDR or FROM-TO",
        "hash:net" => "IP or IP/CIDR or FROM-TO",
        "hash:ip,port" => "IP,[PROTO:]PORT",
        "hash:net,port" => "NET,[PROTO:]PORT",
        "hash:ip,port,ip" => "IP,[PROTO:]PORT,IP",
        "hash:ip,port,net" => "IP,[PROTO:]PORT,NET",
        "hash:net,port,net" => "NET,[PROTO:]PORT,NET",
        "hash:net,iface" => "NET,[physdev:]IFACE",
        "hash:net,net" => "NET,NET",
        "hash:mac" => "MAC",
        "hash:ip,mac" => "IP,MAC",
        "hash:ip,mark" => "IP,MARK",
        "bitmap:ip,mac" => "IP[,MAC]",
        "bitmap:port" => "PORT or FROM-TO",
        _ => "SETNAME",
    };

    // ---------------------------------------------------------------- destroy / flush / rename / swap

    private void Destroy()
    {
        int i = 1;
        if (i == _tokens.Count)
        {
            foreach (var s in _registry.Sets.ToList())
                _registry.Remove(s);
            return;
        }
        var nameTok = _tokens[i++];
        NoMore(i, "end of line");
        if (!_registry.TryGet(nameTok.Text, out var set))
        {
            if (_exist)
                return;
            throw Error(nameTok, "no set with this name", "the name of an existing set");
        }
        if (_registry.IsReferenced(set))
            throw Error(nameTok, "the set is a member of a list:set and cannot be destroyed", "an unreferenced set");
        _registry.Remove(set);
    }

    private void Flush()
    {
        int i = 1;
        if (i == _tokens.Count)
        {
            foreach (var s in _registry.Sets)
                s.Flush();
            return;
        }
        var set = SetNamed(_tokens[i++]);
        NoMore(i, "end of line");
        set.Flush();
    }

    private void Rename()
    {
        int i = 1;
        var fromTok = Next(ref i, "set name");
        var set = SetNamed(fromTok);
        var toTok = Next(ref i, "new set name");
        NoMore(i, "end of line");
        string to = NewName(toTok);
        if (_registry.TryGet(to, out _))
            throw Error(toTok, "a set with this name already exists", "a new set name");
        if (_registry.IsReferenced(set))
            throw Error(fromTok, "the set is a member of a list:set and cannot be renamed", "an unreferenced set");
        _registry.Rename(set, to);
    }

    private void Swap()
    {
        int i = 1;
        var aTok = Next(ref i, "set name");
        var a = SetNamed(aTok);
        var bTok = Next(ref i, "second set name");
        var b = SetNamed(bTok);
        NoMore(i, "end of line");
        // ip_set_swap: only sets of the same type and family can change places.
        if (a.Type != b.Type || a.IsV6 != b.IsV6)
            throw Error(bTok, "the sets cannot be swapped: their type or family differ", $"a {a.Type.Name} set of the same family");
        _registry.Swap(a, b);
    }
}
