namespace TraceReplay.Store;

public static partial class RunSchema
{
    /// <summary>
    /// SQL that inserts rows given in packets' text form (the view's columns, by name; those left out
    /// are NULL) into packets_data, adding the texts run_text lacks: for generators that build runs
    /// in SQL (SyntheticRun, the bigrun benchmark) rather than through <see cref="RunWriter"/>. Texts
    /// are stored as given: write addresses as IpAddr prints them (dotted IPv4, .NET's IPv6 form), so
    /// that filters on a run's addresses find them.
    /// </summary>
    public static IEnumerable<string> InsertPacketsFromText(string select) => Packets.InsertFromText(select);
}

internal sealed partial class TableDef
{
    /// <summary>See <see cref="RunSchema.InsertPacketsFromText"/>: stage the text rows, add the new texts to run_text, convert.</summary>
    public IEnumerable<string> InsertFromText(string select)
    {
        if (!IsKeyed)
            throw new InvalidOperationException($"{Name} is not keyed: insert into it directly");
        string stage = $"__tracereplay_text_{Name}";
        yield return $"CREATE OR REPLACE TEMP TABLE {stage} AS SELECT * FROM {Name} LIMIT 0";
        yield return $"INSERT INTO {stage} BY NAME {select}";
        var texts = Columns.Where(c => c.Storage != ColStorage.Plain).Select(c => $"\"{c.Name}\"");
        yield return $"""
            INSERT INTO run_text
            SELECT (SELECT coalesce(max(id) + 1, 0) FROM run_text) + row_number() OVER (ORDER BY text) - 1, text
            FROM (SELECT DISTINCT text FROM (SELECT unnest([{string.Join(", ", texts)}]) AS text FROM {stage})
                  WHERE text IS NOT NULL AND text NOT IN (SELECT text FROM run_text))
            """;
        // A hash join per keyed column on run_text's texts (each text's first id: the writer's bounded
        // tables may have written one twice), not a list search per row: 100 M generated rows meet
        // tens of thousands of addresses. Hash joins do not keep the rows' order: ORDER BY puts them back
        // in the order given, the storage order `diff`'s positional pass relies on (without it a
        // generated 10 M-sighting pair of runs fell back to the hash-join plan: 58 s instead of 4).
        var keyed = Columns.Where(c => c.Storage != ColStorage.Plain).Select((c, n) => (c.Name, Alias: $"k{n}")).ToList();
        string replace = string.Join(", ", keyed.Select(k => $"{k.Alias}.id AS \"{k.Name}\""));
        string joins = string.Join(" ", keyed.Select(k => $"LEFT JOIN u {k.Alias} ON {k.Alias}.text = s.\"{k.Name}\""));
        yield return $"""
            INSERT INTO {DataName} BY NAME
            WITH u AS (SELECT text, min(id) AS id FROM run_text GROUP BY text)
            SELECT s.* REPLACE ({replace})
            FROM {stage} s {joins}
            ORDER BY s.rowid
            """;
        yield return $"DROP TABLE {stage}";
    }
}
