using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace TraceReplay.Store;

public sealed partial class RunWriter
{
    /// <summary>
    /// The writer thread of <see cref="RunWriterOptions.WriterThread"/>: full buffers go to it in the
    /// order they filled (so DuckDB and the Arrow files get exactly the batches of the one-thread
    /// path), it stores them and hands the emptied buffers back. Arrays of rows
    /// (RunWriter.Records.cs) come the same way, in order with the buffers: it fills their table's
    /// columns, stores each full batch and hands the emptied arrays back. A table has at most
    /// <see cref="BuffersPerTable"/> buffers, so the replay waits rather than queueing without bound
    /// when storage is the slower stage. A failure on the writer thread is rethrown to the replay at
    /// its next batch or at Complete.
    /// </summary>
    private sealed class BatchWriter
    {
        /// <summary>One filling, two queued or being stored.</summary>
        private const int BuffersPerTable = 3;

        private readonly RunWriter _writer;
        private readonly AddressText _addresses;
        /// <summary>A full buffer to store; or rows to fill (Table null); or a table whose filled buffer to store (both null).</summary>
        private readonly BlockingCollection<(Table? Table, TableBuffer? Buffer, RowBatch? Rows)> _queue = [];
        private readonly Thread _thread;
        private volatile ExceptionDispatchInfo? _failure;

        public BatchWriter(RunWriter writer, AddressText addresses)
        {
            _writer = writer;
            _addresses = addresses;
            _thread = new Thread(Run) { IsBackground = true, Name = "RunWriter" };
            _thread.Start();
        }

        /// <summary>Queues the table's full buffer and gives the table an empty one to go on with.</summary>
        public void Enqueue(Table t)
        {
            _failure?.Throw();
            var full = t.Buffer;
            t.Buffer = TakeSpare(t, full);
            _queue.Add((t, full, null));
        }

        /// <summary>Queues rows to be filled into their table's columns; the array comes back through its source once filled.</summary>
        public void Enqueue(RowBatch rows)
        {
            _failure?.Throw();
            _queue.Add((null, null, rows));
        }

        /// <summary>Queues the storing of what a row-filled table's buffer holds (at Complete).</summary>
        public void EnqueueStore(Table t)
        {
            _failure?.Throw();
            _queue.Add((t, null, null));
        }

        /// <summary>Waits until everything queued is stored; rethrows the writer thread's failure.</summary>
        public void Finish()
        {
            _queue.CompleteAdding();
            _thread.Join();
            _failure?.Throw();
        }

        /// <summary>Stops without caring how the queued batches fare (the run is being thrown away).</summary>
        public void Abandon()
        {
            if (!_queue.IsAddingCompleted)
                _queue.CompleteAdding();
            _thread.Join();
        }

        private TableBuffer TakeSpare(Table t, TableBuffer like)
        {
            lock (t.Spares)
            {
                while (t.Spares.Count == 0 && t.Buffers >= BuffersPerTable)
                    Monitor.Wait(t.Spares);
                if (t.Spares.Count > 0)
                    return t.Spares.Pop();
                t.Buffers++;
            }
            return new TableBuffer(like.Def, _addresses, Math.Min(_writer._options.BatchRows, 4096));
        }

        private void Run()
        {
            foreach (var (t, buffer, rows) in _queue.GetConsumingEnumerable())
            {
                if (_failure is null)
                {
                    try
                    {
                        if (rows is not null)
                            rows.Fill(_writer);
                        else if (buffer is not null)
                            _writer.Store(t!, buffer);
                        else
                            _writer.StoreFilled(t!);
                    }
                    catch (Exception e)
                    {
                        _failure = ExceptionDispatchInfo.Capture(e);
                    }
                }
                if (rows is not null)
                {
                    rows.Recycle();
                    continue;
                }
                if (buffer is null)
                    continue;
                buffer.Clear();
                lock (t!.Spares)
                {
                    t.Spares.Push(buffer);
                    Monitor.PulseAll(t.Spares);
                }
            }
        }
    }
}
