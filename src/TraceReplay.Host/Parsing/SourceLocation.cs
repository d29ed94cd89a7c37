namespace TraceReplay.Host.Parsing;

/// <summary>Where in an input file a token stands: 1-based line and column, as editors count.</summary>
public readonly record struct SourceLocation(string File, int Line, int Column)
{
    public override string ToString() => Column > 0 ? $"{File}:{Line}:{Column}" : $"{File}:{Line}";
}
