namespace TraceReplay.Capture.Points;

/// <summary>One capture argument: a file, optionally bound to the interface it was taken on (`IFACE=FILE`).</summary>
public sealed record CaptureSource(string Path, string? Interface)
{
    /// <summary>
    /// Parses `FILE` or `IFACE=FILE`. An argument that names an existing file is a file even if it
    /// contains '='; otherwise the part before the first '=' must be a valid Linux interface name.
    /// </summary>
    /// <exception cref="ArgumentException">The argument is neither.</exception>
    public static CaptureSource Parse(string argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        int eq = argument.IndexOf('=', StringComparison.Ordinal);
        if (eq < 0 || File.Exists(argument))
            return new CaptureSource(argument, null);
        string iface = argument[..eq], path = argument[(eq + 1)..];
        if (!IsInterfaceName(iface))
            throw new ArgumentException($"capture '{argument}': '{iface}' is not an interface name (1-15 characters, no '/', ':' or whitespace)");
        if (path.Length == 0)
            throw new ArgumentException($"capture '{argument}': no file after '='");
        return new CaptureSource(path, iface);
    }

    /// <summary>The kernel's dev_valid_name: 1 to 15 bytes, not "." or "..", no '/', ':' or whitespace.</summary>
    public static bool IsInterfaceName(string name) =>
        name.Length is > 0 and < 16 && name is not "." and not ".."
        && !name.Any(c => c == '/' || c == ':' || char.IsWhiteSpace(c));

    public override string ToString() => Interface is null ? Path : $"{Interface}={Path}";
}
