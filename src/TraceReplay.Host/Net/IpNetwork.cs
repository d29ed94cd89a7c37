using System.Globalization;
using System.Net;
using System.Net.Sockets;
using TraceReplay.Capture.Decode;

namespace TraceReplay.Host.Net;

/// <summary>
/// An address with a mask, as iptables' -s/-d and routing use them. Masks need not be contiguous
/// (iptables accepts `-s 10.0.0.0/255.0.255.0`); <see cref="PrefixLength"/> is -1 for those. IPv4 is
/// held IPv4-mapped like <see cref="IpAddr"/>, with the mask's upper 96 bits set, so one compare serves
/// both families. The address is stored already masked, as the kernel stores it.
/// </summary>
public readonly record struct IpNetwork(IpAddr Address, IpAddr Mask, bool IsV6)
{
    public static IpNetwork AnyV4 { get; } = new(IpAddr.FromV4(0), V4Mask(0), false);
    public static IpNetwork AnyV6 { get; } = new(default, default, true);

    public bool Contains(IpAddr a) => ((a.Hi & Mask.Hi) == Address.Hi) && ((a.Lo & Mask.Lo) == Address.Lo);

    /// <summary>The prefix length when the mask is contiguous, else -1.</summary>
    public int PrefixLength
    {
        get
        {
            ulong hi = Mask.Hi, lo = Mask.Lo;
            if (!IsV6)
            {
                uint m = (uint)lo;
                int ones = System.Numerics.BitOperations.PopCount(m);
                return ones == 0 || m == uint.MaxValue << (32 - ones) ? ones : -1;
            }
            int n = System.Numerics.BitOperations.PopCount(hi) + System.Numerics.BitOperations.PopCount(lo);
            UInt128 mask = ((UInt128)hi << 64) | lo;
            UInt128 contiguous = n == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - n);
            return mask == contiguous ? n : -1;
        }
    }

    public bool IsAny => IsV6 ? Mask.Hi == 0 && Mask.Lo == 0 : (uint)Mask.Lo == 0;

    public static IpAddr V4Mask(int prefix) =>
        new(ulong.MaxValue, 0xFFFF_FFFF_0000_0000UL | (prefix == 0 ? 0u : uint.MaxValue << (32 - prefix)));

    public static IpAddr V6Mask(int prefix)
    {
        UInt128 m = prefix == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - prefix);
        return new IpAddr((ulong)(m >> 64), (ulong)m);
    }

    public static IpNetwork Create(IpAddr address, IpAddr mask, bool isV6) =>
        new(new IpAddr(address.Hi & mask.Hi, address.Lo & mask.Lo), mask, isV6);

    /// <summary>Parses `ADDR`, `ADDR/LEN` or (IPv4, IPv6) `ADDR/MASK`.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out IpNetwork network)
    {
        network = default;
        int slash = text.IndexOf('/');
        var addressText = slash < 0 ? text : text[..slash];
        if (!IPAddress.TryParse(addressText, out var ip) || addressText.IsEmpty)
            return false;
        bool v6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
        if (!v6 && addressText.Count('.') != 3)
            return false; // IPAddress accepts "10" and "10.1"; iptables' parser resolves those as host names
        var address = IpAddr.FromIPAddress(ip);
        IpAddr mask;
        if (slash < 0)
        {
            mask = v6 ? V6Mask(128) : V4Mask(32);
        }
        else
        {
            var maskText = text[(slash + 1)..];
            if (int.TryParse(maskText, NumberStyles.None, CultureInfo.InvariantCulture, out int len))
            {
                if (len > (v6 ? 128 : 32))
                    return false;
                mask = v6 ? V6Mask(len) : V4Mask(len);
            }
            else if (IPAddress.TryParse(maskText, out var m) && (m.AddressFamily == AddressFamily.InterNetworkV6) == v6)
            {
                mask = IpAddr.FromIPAddress(m);
                if (!v6)
                    mask = new IpAddr(ulong.MaxValue, 0xFFFF_FFFF_0000_0000UL | (uint)mask.Lo);
            }
            else
            {
                return false;
            }
        }
        network = Create(address, mask, v6);
        return true;
    }

    public static IpNetwork Parse(string text) =>
        TryParse(text, out var n) ? n : throw new FormatException($"'{text}' is not an address or network");

    /// <summary>The form iptables-save prints: ADDR/LEN, or ADDR/MASK for a non-contiguous mask.</summary>
    public override string ToString()
    {
        int len = PrefixLength;
        // IpAddr holds IPv4 as ::ffff:a.b.c.d, so a real IPv6 network of that form prints as ip6tables does.
        string address = IsV6 && Address.IsV4 ? "::ffff:" + IpAddr.FromV4(Address.V4) : Address.ToString();
        if (len >= 0)
            return $"{address}/{len.ToString(CultureInfo.InvariantCulture)}";
        var mask = IsV6 ? Mask : IpAddr.FromV4((uint)Mask.Lo);
        return $"{address}/{mask}";
    }
}
