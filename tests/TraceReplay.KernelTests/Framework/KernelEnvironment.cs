namespace TraceReplay.KernelTests.Framework;

/// <summary>
/// Whether this machine can run the differential suite: root (network namespaces, rule loading) and the
/// tools `make deps` installs. Every scenario calls <see cref="Require"/> first, so a machine without them
/// skips the whole suite with the reason instead of failing.
/// </summary>
public static class KernelEnvironment
{
    /// <summary>What every scenario runs; `make deps` installs all of them (Debian packages in the Makefile).</summary>
    public static IReadOnlyList<string> Tools { get; } =
    [
        "ip", "tc", "sysctl", "ss", "iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save",
        "ipset", "conntrack", "ebtables-save", "tcpdump", "nc", "ping",
    ];

    private static readonly Lazy<string?> Why = new(Check);

    public static void Require()
    {
        if (Why.Value is { } reason)
            Assert.Skip(reason);
    }

    private static string? Check()
    {
        if (!OperatingSystem.IsLinux())
            return "the kernel differential tests need Linux";
        if (!Environment.IsPrivilegedProcess)
            return "the kernel differential tests need root (network namespaces, iptables-restore): run them with sudo";
        var missing = Tools.Where(t => Find(t) is null).ToList();
        if (missing.Count > 0)
            return $"missing tools: {string.Join(", ", missing)} (run `make deps` as root)";
        // A container without CAP_SYS_ADMIN has root but cannot make namespaces.
        string probe = $"kt{Environment.ProcessId % 10000:D4}-probe";
        var (code, _, err) = Sh.Run("ip", ["netns", "add", probe]);
        if (code != 0)
            return $"cannot create a network namespace ({err.Trim()})";
        Sh.Run("ip", ["netns", "del", probe]);
        return null;
    }

    public static string? Find(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':').Append("/usr/sbin").Append("/sbin"))
        {
            string p = Path.Combine(dir, tool);
            if (File.Exists(p))
                return p;
        }
        return null;
    }
}
