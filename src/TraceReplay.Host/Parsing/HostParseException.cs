namespace TraceReplay.Host.Parsing;

/// <summary>
/// An input of the host snapshot that cannot be read as what it claims to be. The message names
/// file:line:column, the offending token and what was expected, so a user can fix the line —
/// iptables-restore's "line N failed", but saying why.
/// </summary>
public sealed class HostParseException : Exception
{
    public HostParseException(SourceLocation location, string problem, string? token = null, string? expected = null)
        : base(Format(location, problem, token, expected))
    {
        Location = location;
        Problem = problem;
        Token = token;
        Expected = expected;
    }

    public HostParseException()
    {
        Problem = string.Empty;
    }

    public HostParseException(string message) : base(message)
    {
        Problem = message;
    }

    public HostParseException(string message, Exception innerException) : base(message, innerException)
    {
        Problem = message;
    }

    public SourceLocation Location { get; }
    public string Problem { get; }
    public string? Token { get; }
    public string? Expected { get; }

    private static string Format(SourceLocation location, string problem, string? token, string? expected)
    {
        var text = $"{location}: {problem}";
        if (token is not null)
            text += $" (at '{token}')";
        if (expected is not null)
            text += $"; expected {expected}";
        return text;
    }
}

/// <summary>A problem the parser could read past (an unknown module, a tool's warning line): kept and reported.</summary>
public sealed record ParseWarning(SourceLocation Location, string Message)
{
    public override string ToString() => $"{Location}: warning: {Message}";
}
