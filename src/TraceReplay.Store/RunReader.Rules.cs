namespace TraceReplay.Store;

/// <summary>A row of <c>rules</c> read back: a rule, a built-in chain's policy, or a user chain's own line (position 0, text "-").</summary>
public sealed record RunRule(int Id, RunFamily Family, string Table, string Chain, int Position, bool IsPolicy, string Text, ulong Packets, ulong Bytes);

public sealed partial class RunReader
{
    /// <summary>The rules of one family in id order, which is iptables-save order (tables, then each chain's line and rules).</summary>
    public IReadOnlyList<RunRule> Rules(RunFamily family) =>
        Query("""SELECT id, "table", chain, position, is_policy, text, packets, bytes FROM rules WHERE family = $1 ORDER BY id""",
            r => new RunRule(r.GetInt32(0), family, r.GetString(1), r.GetString(2), r.GetInt32(3), r.GetBoolean(4), r.GetString(5), U64(r, 6), U64(r, 7)),
            RunSchema.Family(family));
}
