using Apache.Arrow;
using DuckDB.NET.Data;

namespace TraceReplay.Store;

/// <summary>
/// The other way into DuckDB: DuckDB.NET's appender (duckdb_append_data_chunk underneath), fed value by
/// value from the record batch. Kept so the two can be measured against each other (StoreBenchmarks);
/// DuckDB.NET allocates a row object per row and a string per text value here. It takes the batch
/// DuckDB scans (<see cref="TableDef.ScanSchema"/>): keys as keys, ENUM codes turned back into their names.
/// </summary>
internal static class DuckDbAppend
{
    public static void Append(DuckDBConnection db, TableDef def, RecordBatch batch)
    {
        using var appender = db.CreateAppender(def.DataName);
        var columns = new IArrowArray[def.Columns.Length];
        for (int c = 0; c < columns.Length; c++)
            columns[c] = batch.Column(c);
        for (int r = 0; r < batch.Length; r++)
        {
            var row = appender.CreateRow();
            for (int c = 0; c < columns.Length; c++)
            {
                row = columns[c] switch
                {
                    _ when columns[c].IsNull(r) => row.AppendNullValue(),
                    UInt8Array a when def.Columns[c].EnumType is { } e => row.AppendValue(RunSchema.EnumValues(e)[a.GetValue(r)!.Value - 1]),
                    BooleanArray a => row.AppendValue(a.GetValue(r)),
                    UInt8Array a => row.AppendValue(a.GetValue(r)),
                    UInt16Array a => row.AppendValue(a.GetValue(r)),
                    UInt32Array a => row.AppendValue(a.GetValue(r)),
                    Int32Array a => row.AppendValue(a.GetValue(r)),
                    Int64Array a => row.AppendValue(a.GetValue(r)),
                    UInt64Array a => row.AppendValue(a.GetValue(r)),
                    TimestampArray a => row.AppendValue(a.GetValue(r) is { } us ? DateTime.UnixEpoch.AddTicks(us * 10) : null),
                    StringArray a => row.AppendValue(a.GetString(r)),
                    _ => throw new NotSupportedException(columns[c].Data.DataType.Name),
                };
            }
            row.EndRow();
        }
    }
}
