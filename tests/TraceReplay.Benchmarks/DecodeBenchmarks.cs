using BenchmarkDotNet.Attributes;
using TraceReplay.Capture;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Benchmarks;

/// <summary>
/// The decoder alone, from memory, over a shuffled mix of the frame shapes a capture holds, so branch
/// prediction sees a realistic stream rather than one shape repeated. Results are per packet.
/// </summary>
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private const int FrameCount = 1024;

    private static readonly (FrameKind Kind, int Weight)[] Mix =
    [
        (FrameKind.EthernetIpv4Tcp, 35),
        (FrameKind.EthernetIpv4Udp, 15),
        (FrameKind.VlanIpv4Tcp, 10),
        (FrameKind.EthernetIpv6Tcp, 15),
        (FrameKind.Sll2Ipv4Tcp, 10),
        (FrameKind.IcmpEcho, 8),
        (FrameKind.IcmpPortUnreachable, 7),
    ];

    private byte[] _bytes = [];
    private int[] _offsets = [];
    private LinkType[] _linkTypes = [];
    private byte[] _tcpBytes = [];
    private int _tcpLength;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(42);
        int totalWeight = Mix.Sum(m => m.Weight);
        var scratch = new byte[Frames.MaxLength];
        using var bytes = new MemoryStream();
        _offsets = new int[FrameCount + 1];
        _linkTypes = new LinkType[FrameCount];
        for (int i = 0; i < FrameCount; i++)
        {
            int roll = rng.Next(totalWeight);
            var kind = Mix[0].Kind;
            foreach (var (k, weight) in Mix)
            {
                if (roll < weight)
                {
                    kind = k;
                    break;
                }
                roll -= weight;
            }
            int length = Frames.Write(scratch, kind, rng, out _linkTypes[i]);
            bytes.Write(scratch, 0, length);
            _offsets[i + 1] = (int)bytes.Length;
        }
        _bytes = bytes.ToArray();
        Verify();

        // Fixed-size frames of one flow shape, back to back.
        var tcp = new byte[Frames.MaxLength];
        _tcpLength = Frames.Write(tcp, FrameKind.EthernetIpv4Tcp, new Random(7), out _);
        _tcpBytes = new byte[_tcpLength * FrameCount];
        for (int i = 0; i < FrameCount; i++)
            tcp.AsSpan(0, _tcpLength).CopyTo(_tcpBytes.AsSpan(i * _tcpLength));
    }

    [Benchmark(OperationsPerInvoke = FrameCount)]
    public long DecodeMix()
    {
        var bytes = _bytes;
        var offsets = _offsets;
        var linkTypes = _linkTypes;
        long sum = 0;
        for (int i = 0; i < FrameCount; i++)
        {
            var frame = bytes.AsSpan(offsets[i], offsets[i + 1] - offsets[i]);
            PacketDecoder.Decode(frame, linkTypes[i], frame.Length, out var d);
            // Fields from every layer, so no part of the decode is dead code to the JIT.
            sum += d.SrcPort + d.DstPort + d.InnerDstPort + d.Protocol + (long)d.Src.Lo + d.PayloadLength + (int)d.Layers;
        }
        return sum;
    }

    /// <summary>
    /// One shape only (Ethernet/IPv4/TCP, the commonest frame): the decoder's cost without the branch
    /// mispredictions a shuffled mix forces, i.e. its floor on a capture dominated by one kind of traffic.
    /// </summary>
    [Benchmark(OperationsPerInvoke = FrameCount)]
    public long DecodeTcpOnly()
    {
        var bytes = _tcpBytes;
        int length = _tcpLength;
        long sum = 0;
        for (int i = 0; i < FrameCount; i++)
        {
            var frame = bytes.AsSpan(i * length, length);
            PacketDecoder.Decode(frame, LinkType.Ethernet, frame.Length, out var d);
            sum += d.SrcPort + d.DstPort + d.InnerDstPort + d.Protocol + (long)d.Src.Lo + d.PayloadLength + (int)d.Layers;
        }
        return sum;
    }

    /// <summary>A frame the builder got wrong would time an error path instead of the decode.</summary>
    private void Verify()
    {
        for (int i = 0; i < FrameCount; i++)
        {
            var frame = _bytes.AsSpan(_offsets[i], _offsets[i + 1] - _offsets[i]);
            PacketDecoder.Decode(frame, _linkTypes[i], frame.Length, out var d);
            if (d.IsMalformed || !d.HasTransport)
                throw new InvalidOperationException($"benchmark frame {i} decodes as {d.Layers}, {d.Issue}");
            if ((d.Flags & PacketFlags.IcmpError) != 0 && (d.Layers & Layers.InnerTransport) == 0)
                throw new InvalidOperationException($"benchmark frame {i}: the ICMP error's quoted UDP header was not decoded");
        }
    }
}
