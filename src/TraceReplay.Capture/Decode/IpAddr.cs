using System.Buffers.Binary;
using System.Net;

namespace TraceReplay.Capture.Decode;

/// <summary>
/// An IPv4 or IPv6 address as a 128-bit value, IPv4 held IPv4-mapped (::ffff:a.b.c.d) as the kernel's
/// nf_inet_addr union lets one tuple type carry both families. A value type so tuples hash and compare
/// without allocating.
/// </summary>
public readonly record struct IpAddr(ulong Hi, ulong Lo) : IComparable<IpAddr>
{
    private const ulong V4MappedHi = 0;
    private const ulong V4MappedLoPrefix = 0x0000_FFFF_0000_0000UL;

    public static IpAddr FromV4(uint address) => new(V4MappedHi, V4MappedLoPrefix | address);

    public static IpAddr ReadV4(ReadOnlySpan<byte> b) => FromV4(BinaryPrimitives.ReadUInt32BigEndian(b));

    public static IpAddr ReadV6(ReadOnlySpan<byte> b) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(b), BinaryPrimitives.ReadUInt64BigEndian(b[8..]));

    public bool IsV4 => Hi == V4MappedHi && (Lo & 0xFFFF_FFFF_0000_0000UL) == V4MappedLoPrefix;

    public uint V4 => (uint)Lo;

    public static IpAddr FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> b = stackalloc byte[16];
        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(b, out _);
            return ReadV4(b);
        }
        address.TryWriteBytes(b, out _);
        return ReadV6(b);
    }

    public static IpAddr Parse(string text) => FromIPAddress(IPAddress.Parse(text));

    public IPAddress ToIPAddress()
    {
        Span<byte> b = stackalloc byte[16];
        if (IsV4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, V4);
            return new IPAddress(b[..4]);
        }
        BinaryPrimitives.WriteUInt64BigEndian(b, Hi);
        BinaryPrimitives.WriteUInt64BigEndian(b[8..], Lo);
        return new IPAddress(b);
    }

    public int CompareTo(IpAddr other) => Hi != other.Hi ? Hi.CompareTo(other.Hi) : Lo.CompareTo(other.Lo);

    public override string ToString() => ToIPAddress().ToString();
}

/// <summary>A 48-bit MAC address in the low bits of a ulong, so comparing it to an interface's own MAC is one compare.</summary>
public readonly record struct MacAddr(ulong Value)
{
    public static MacAddr Read(ReadOnlySpan<byte> b) =>
        new(((ulong)BinaryPrimitives.ReadUInt32BigEndian(b) << 16) | BinaryPrimitives.ReadUInt16BigEndian(b[4..]));

    public static bool TryParse(string? text, out MacAddr mac)
    {
        mac = default;
        if (text is null || text.Length != 17)
            return false;
        ulong v = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[(i * 3) - 1] != ':')
                return false;
            if (!byte.TryParse(text.AsSpan(i * 3, 2), System.Globalization.NumberStyles.HexNumber, null, out byte part))
                return false;
            v = (v << 8) | part;
        }
        mac = new MacAddr(v);
        return true;
    }

    public override string ToString() => string.Create(17, Value, static (span, v) =>
    {
        for (int i = 0; i < 6; i++)
        {
            byte part = (byte)(v >> (40 - (8 * i)));
            if (i > 0)
                span[(i * 3) - 1] = ':';
            part.TryFormat(span[(i * 3)..], out _, "x2");
        }
    });
}
