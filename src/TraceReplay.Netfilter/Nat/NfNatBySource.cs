using System.Runtime.InteropServices;
using TraceReplay.Capture.Decode;
using TraceReplay.Netfilter.Conntrack;

namespace TraceReplay.Netfilter.Nat;

/// <summary>
/// nf_nat_bysource: the connections with a SRC binding, keyed by their original source (protocol,
/// address, port or ICMP id — same_src), newest first as hlist_add_head_rcu leaves them. Nodes live
/// in one array with a free list, so adding and removing a connection allocates nothing once the
/// array has grown to the table's high-water mark.
/// </summary>
internal sealed class NfNatBySource
{
    private readonly record struct SourceKey(IpAddr Src, ushort SrcPort, byte Protocol);

    internal struct Node
    {
        public NfConntrackTuple Reply;
        public int Next;
    }

    private readonly Dictionary<SourceKey, int> _heads = [];
    private Node[] _nodes = new Node[64];
    private int _used;
    private int _free = -1;

    public int Count { get; private set; }

    private static SourceKey KeyOf(in NfConntrackTuple original) => new(original.Src, original.SrcPort, original.Protocol);

    public void Add(in NfConntrackTuple original, in NfConntrackTuple reply)
    {
        int n;
        if (_free >= 0)
        {
            n = _free;
            _free = _nodes[n].Next;
        }
        else
        {
            if (_used == _nodes.Length)
                Array.Resize(ref _nodes, _nodes.Length * 2);
            n = _used++;
        }
        ref int head = ref CollectionsMarshal.GetValueRefOrAddDefault(_heads, KeyOf(original), out bool exists);
        _nodes[n] = new Node { Reply = reply, Next = exists ? head : -1 };
        head = n;
        Count++;
    }

    /// <summary>Unlinks the connection with this original source and reply tuple (the first such; a reply tuple is unique among live connections).</summary>
    public bool Remove(in NfConntrackTuple original, in NfConntrackTuple reply)
    {
        var key = KeyOf(original);
        ref int head = ref CollectionsMarshal.GetValueRefOrNullRef(_heads, key);
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref head))
            return false;
        int prev = -1;
        for (int n = head; n >= 0; prev = n, n = _nodes[n].Next)
        {
            if (!_nodes[n].Reply.Equals(reply))
                continue;
            int next = _nodes[n].Next;
            if (prev < 0)
            {
                if (next < 0)
                    _heads.Remove(key);
                else
                    head = next;
            }
            else
            {
                _nodes[prev].Next = next;
            }
            _nodes[n] = new Node { Next = _free };
            _free = n;
            Count--;
            return true;
        }
        return false;
    }

    /// <summary>The reply tuples of the connections whose original source is <paramref name="original"/>'s, newest first.</summary>
    public Enumerator Matches(in NfConntrackTuple original) =>
        new(_nodes, _heads.TryGetValue(KeyOf(original), out int head) ? head : -1);

    public ref struct Enumerator
    {
        private readonly Node[] _nodes;
        private int _next;
        private int _current;

        internal Enumerator(Node[] nodes, int head)
        {
            _nodes = nodes;
            _next = head;
            _current = -1;
        }

        public readonly Enumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_next < 0)
                return false;
            _current = _next;
            _next = _nodes[_current].Next;
            return true;
        }

        public readonly ref readonly NfConntrackTuple Current => ref _nodes[_current].Reply;
    }
}
