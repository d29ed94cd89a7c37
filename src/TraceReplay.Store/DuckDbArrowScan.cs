using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.C;
using DuckDB.NET.Data;

namespace TraceReplay.Store;

/// <summary>
/// Arrow import into DuckDB through its C API (duckdb_arrow_array_scan, main/capi/arrow-c.cpp), which
/// DuckDB.NET does not wrap: a record batch is exported over the Arrow C data interface, exposed to
/// SQL as a view, and copied by INSERT ... SELECT, so DuckDB reads the columns in place with no
/// per-value managed call. The view DuckDB creates is not temporary (CreateView(name, replace, false)),
/// so it is replaced batch after batch and dropped before the database is finished.
/// </summary>
internal sealed unsafe class DuckDbArrowScan : IDisposable
{
    [DllImport("duckdb", EntryPoint = "duckdb_arrow_array_scan")]
    private static extern int ArrowArrayScan(IntPtr connection, byte* tableName, CArrowSchema* schema, CArrowArray* array, IntPtr* outStream);

    [DllImport("duckdb", EntryPoint = "duckdb_destroy_arrow_stream")]
    private static extern void DestroyArrowStream(IntPtr* stream);

    private readonly DuckDBConnection _connection;
    private readonly CArrowSchema* _schema;
    private readonly byte[] _viewName;
    private readonly DuckDBCommand _insert;
    private bool _disposed;

    public DuckDbArrowScan(DuckDBConnection connection, TableDef table)
    {
        _connection = connection;
        ViewName = "__tracereplay_in_" + table.Name;
        _viewName = System.Text.Encoding.ASCII.GetBytes(ViewName + "\0");
        _schema = CArrowSchema.Create();
        CArrowSchemaExporter.ExportSchema(table.ScanSchema, _schema);
        _insert = connection.CreateCommand();
        _insert.CommandText = $"INSERT INTO {table.DataName} SELECT {table.ScanSelect()} FROM {ViewName}";
    }

    public string ViewName { get; }

    public void Insert(RecordBatch batch)
    {
        var array = CArrowArray.Create();
        IntPtr stream = IntPtr.Zero;
        try
        {
            CArrowArrayExporter.ExportRecordBatch(batch, array);
            fixed (byte* name = _viewName)
            {
                if (ArrowArrayScan(_connection.NativeConnection.DangerousGetHandle(), name, _schema, array, &stream) != 0)
                    throw new InvalidOperationException($"DuckDB refused the Arrow batch for {ViewName}");
            }
            _insert.ExecuteNonQuery();
        }
        finally
        {
            if (stream != IntPtr.Zero)
                DestroyArrowStream(&stream);
            CArrowArray.Free(array);
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _insert.Dispose();
        CArrowSchema.Free(_schema);
    }
}
