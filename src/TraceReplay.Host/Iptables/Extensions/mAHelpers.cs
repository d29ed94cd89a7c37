using System.Globalization;

namespace TraceReplay.Host.Iptables.Extensions;

/// <summary>Small number formats the save hooks use that SaveWriter does not have.</summary>
internal static class XtFormat
{
    /// <summary>printf("0x%02x").</summary>
    public static string Hex2(uint v) => "0x" + v.ToString("x2", CultureInfo.InvariantCulture);
}
