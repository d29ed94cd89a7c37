// The run database: Arrow record batches written to DuckDB (and to Arrow IPC files), Parquet export, SQL views.
[assembly: CLSCompliant(false)]
