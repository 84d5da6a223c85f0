using Microsoft.Win32.SafeHandles;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// A durable log of batches on disk: one backend's backlog (the batches it could not take, replayed in order), or
/// the write journal.
///
/// <code>
/// &lt;data_dir&gt;/&lt;escaped backend name&gt;.backlog/
///   00000000000000000001.seg   segments, rolled at SegmentBytes, deleted once every reader has passed them
///   commit                     the first reader's position: two slots overwritten in turn (CommitFile)
///   commit.&lt;name&gt;              each other named reader's position, the same way
///   lock                       held exclusively (flock) while a process has the log open
///
/// segment := header record*
/// header  := "IPXB" | u32 version=1                                                        8 bytes
/// record  := u32 marker=0x1B0C5EED | u32 length N (≤ 256 MiB) | u32 crc32(body) | body (N bytes)
/// body    := u16 len | db (UTF-8) | u16 len | rp (UTF-8) | i64 appended-at (unix ms) | payload (line protocol)
///
/// commit  := slot @0 | slot @512                                             1024 bytes, preallocated
/// slot    := "IPXC" | u32 version=1 | u64 sequence | i64 segment | i64 offset | u32 crc32(previous 32 bytes)
///            the valid slot with the highest sequence is the committed position (the start of the next record)
///
/// all integers big-endian; the CRC is CRC-32 (IEEE) as in System.IO.Hashing.Crc32
/// </code>
///
/// <para><b>The verbs</b>, after FasterLog's: <see cref="AppendAsync"/> enqueues a record and completes once it is
/// committed to disk (group commit: one fsync for whatever is queued), with where it is; a <see cref="LogReader"/>
/// (a named iterator) peeks at its next record and commits its own position durably; the log truncates itself: a
/// segment every reader has passed is deleted. <see cref="ReadAsync"/> reads a durable payload back in place.</para>
///
/// <para><b>One writer thread</b> owns every file write: appended records, readers' commits and truncation. Its
/// own thread, because writes and fsyncs block and must not hold up the thread pool. A failed write or fsync is cut
/// back (truncated) before anything else is written, so the file never holds a half record followed by good ones.
/// Readers read only up to the published durable end, so they never see a record still being written and never
/// wait on the writer's fsync.</para>
///
/// <para><b>Recovery</b> (open): unlike the Go original's <c>.dat</c>/<c>.rec</c> pair, every record carries a marker
/// and a CRC. A torn tail (incomplete or invalid bytes after the last valid record of the last segment) is cut and
/// reported; a corrupt record anywhere else is stepped over (resynchronising on the next marker whose record checks out)
/// and counted, never replayed as garbage and never a crash loop; lengths are capped, so bit rot cannot make us allocate
/// gigabytes; a commit pointing past the data or into a missing segment is clamped to the nearest data and logged.</para>
/// </summary>
public sealed partial class FileBacklog : IAsyncDisposable
{
    private const int MaxGroup = 256;

    private readonly string _dir;
    private readonly BacklogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly FileStream _owner;
    private LogReader[] _readers = [];

    // The writer thread's queue; a monitor wakes the thread.
    private readonly Queue<Work> _work = new();
    private bool _closing; // guarded by _work
    private readonly TaskCompletionSource _writerStopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Owned by the writer thread.
    private FileStream _writer;
    private long _writeSegment;
    private long _writeLength;   // bytes of the current segment that hold only whole, written records
    private bool _needsCutBack;  // a failed write may have left bytes after _writeLength that are not cut yet

    private readonly Lock _payloadReadersLock = new();
    private readonly Dictionary<long, SafeFileHandle> _payloadReaders = []; // guarded by _payloadReadersLock
    private bool _payloadReadersClosed;

    // Shared between the writer thread, the readers and metric readers; held only for a few assignments, never over I/O.
    private readonly Lock _state = new();
    private BacklogPosition _end;
    private long _queuedBytes;
    private bool _disposed;

    private FileBacklog(string dir, string name, BacklogOptions options, TimeProvider time, ILogger logger, FileStream writer, long writeSegment,
        long writeLength, FileStream owner)
    {
        _owner = owner;
        _dir = dir;
        Name = name;
        _options = options;
        _time = time;
        _logger = logger;
        _writer = writer;
        _writeSegment = writeSegment;
        _writeLength = writeLength;
        _end = new BacklogPosition(writeSegment, writeLength);
    }

    /// <summary>Whose log it is (a backend's name, or the journal's), for logs and errors.</summary>
    public string Name { get; }

    /// <summary>What opening found: torn bytes cut, corrupt records skipped, commits repaired.</summary>
    public RecoveryReport Recovery { get; private set; } = new(0, 0, false);

    /// <summary>The first named reader (<see cref="BacklogOptions.Readers"/>): the log's consumer.</summary>
    public LogReader Reader => _readers[0];

    public LogReader ReaderNamed(string name) =>
        _readers.FirstOrDefault(r => r.Name == name) ?? throw new ArgumentException($"backlog {Name} has no reader {name}", nameof(name));

    /// <summary>
    /// Opens (creating if needed) the log of <paramref name="name"/> under <paramref name="dataDir"/>, recovering it:
    /// torn tail cut, readers' commits validated, pending records counted (every one's CRC checked). Throws
    /// <see cref="NotSupportedException"/> for segments written by a newer format version (they are left untouched),
    /// and <see cref="IOException"/> when another process has the log open.
    /// </summary>
    public static ValueTask<FileBacklog> OpenAsync(string dataDir, string name, BacklogOptions options, TimeProvider time, ILogger logger, CancellationToken ct) =>
        Synchronously(() => Open(dataDir, name, options, time, logger, ct), ct);

    /// <summary>
    /// Appends one batch. <see cref="AppendOutcome.Appended"/>: written and fsynced. <see cref="AppendOutcome.Full"/>:
    /// the cap would be exceeded, nothing written. <see cref="AppendOutcome.IoError"/>: the disk refused, the log is
    /// unchanged (a partial record is cut back) and later appends may succeed. The token is honoured until the record
    /// is queued; after that the call waits for the outcome, since only that says whether the batch is durable.
    /// </summary>
    public ValueTask<AppendResult> AppendAsync(string db, string rp, ReadOnlyMemory<byte> payload, CancellationToken ct) =>
        AppendAsync(db, rp, [payload], ct);

    /// <summary>As above, with the payload in pieces (copied one after the other before the call first waits).</summary>
    public async ValueTask<AppendResult> AppendAsync(string db, string rp, IReadOnlyList<ReadOnlyMemory<byte>> payload, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var (rented, length, error) = RecordFormat.Encode(db, rp, _time.GetUtcNow().ToUnixTimeMilliseconds(), payload);
        if (rented is null)
            return new AppendResult(AppendOutcome.TooLarge, error);
        var append = new AppendWork(rented, length, payload.Sum(p => p.Length), new TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        lock (_state)
        {
            if (_disposed)
            {
                append.GiveBack();
                throw new ObjectDisposedException(nameof(FileBacklog));
            }
            var waiting = _readers.Max(r => r.PendingBytesField);
            if (_options.MaxBytes > 0 && waiting + _queuedBytes + length > _options.MaxBytes)
            {
                append.GiveBack();
                return new AppendResult(AppendOutcome.Full,
                    $"backlog holds {waiting + _queuedBytes} bytes; {length} more would exceed its cap of {_options.MaxBytes}");
            }
            _queuedBytes += length;
        }
        if (!TryQueue(append))
        {
            lock (_state)
                _queuedBytes -= length;
            append.GiveBack();
            throw new ObjectDisposedException(nameof(FileBacklog));
        }
        return await append.Done.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// <paramref name="length"/> bytes of a durable record's payload from <paramref name="at"/> (within a payload an
    /// append reported), read from the file as they are: the caller keeps the record from being committed meanwhile.
    /// Read in place: the bytes were just written, so they come from the page cache, faster than a thread hop.
    /// </summary>
    public ValueTask<byte[]> ReadAsync(BacklogPosition at, int length, CancellationToken ct) =>
        Synchronously(() => Read(at, length), ct);

    /// <summary>As above, into <paramref name="into"/> (its whole length), so a caller can read into a rented buffer.</summary>
    public async ValueTask ReadAsync(BacklogPosition at, Memory<byte> into, CancellationToken ct) =>
        await Synchronously(() =>
        {
            Read(at, into.Span);
            return into.Length;
        }, ct);

    /// <summary>Waits for queued appends and commits to finish, then closes the files. Stop the readers first.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_state)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        lock (_work)
        {
            _closing = true;
            Monitor.PulseAll(_work);
        }
        await _writerStopped.Task.ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
        foreach (var reader in _readers)
        {
            reader.Walker.Dispose();
            reader.CommitFile.Dispose();
        }
        ClosePayloadReaders(_ => true, forGood: true);
        await _owner.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The end of what is durable: readers read up to here.</summary>
    internal BacklogPosition DurableEnd
    {
        get
        {
            lock (_state)
                return _end;
        }
    }

    /// <summary><see cref="DurableEnd"/> for a caller holding the state lock.</summary>
    internal BacklogPosition DurableEndLocked => _end;

    internal T Locked<T>(Func<T> read)
    {
        lock (_state)
            return read();
    }

    internal void Locked(Action change)
    {
        lock (_state)
            change();
    }

    /// <summary>Commits a reader's position through the writer thread; completes once it is durable.</summary>
    internal async ValueTask CommitAsync(LogReader reader, BacklogPosition next, long records, long bytes, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        var commit = new CommitWork(reader, next, records, bytes, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!TryQueue(commit))
            throw new ObjectDisposedException(nameof(FileBacklog));
        await commit.Done.Task.ConfigureAwait(false);
    }

    /// <summary>Damage a reader met after open: it was counted as pending (as valid records) until now.</summary>
    internal void ReportDamage(LogReader reader, Walked.Damage damage)
    {
        LogCorruptSkipped(_logger, Name, damage.Spots, damage.At.Segment, damage.At.Offset, damage.Bytes);
        lock (_state)
        {
            reader.PendingBytesField = Math.Max(0, reader.PendingBytesField - damage.Bytes);
            reader.PendingRecordsField = Math.Max(0, reader.PendingRecordsField - damage.Spots);
            reader.CorruptSkippedField += damage.Spots;
        }
    }

    internal void ReportSegmentGone(long segment) => LogSegmentMissing(_logger, Name, segment);

    internal static string SegmentPath(string dir, long segment) => Path.Combine(dir, $"{segment:D20}.seg");

    internal static List<long> ListSegments(string dir) =>
        Directory.EnumerateFiles(dir, "*.seg")
            .Select(p => long.TryParse(Path.GetFileNameWithoutExtension(p), out var id) ? id : -1)
            .Where(id => id > 0)
            .Order()
            .ToList();

    /// <summary>
    /// Runs file work that completes at once behind a ValueTask, as an async method would: a cancelled token gives a
    /// cancelled task, and failures travel in the task instead of being thrown at the call.
    /// </summary>
    internal static ValueTask<T> Synchronously<T>(Func<T> work, CancellationToken ct)
    {
        if (ct.IsCancellationRequested)
            return ValueTask.FromCanceled<T>(ct);
        try
        {
            return ValueTask.FromResult(work());
        }
        catch (Exception e)
        {
            return ValueTask.FromException<T>(e);
        }
    }

    private byte[] Read(BacklogPosition at, int length)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(length);
        Read(at, bytes);
        return bytes;
    }

    private void Read(BacklogPosition at, Span<byte> into)
    {
        var end = DurableEnd;
        if (at.Segment > end.Segment || (at.Segment == end.Segment && at.Offset + into.Length > end.Offset))
            throw new IOException($"backlog {Name}: {into.Length} bytes at {at} reach past the durable end {end}");
        var file = PayloadReaderFor(at.Segment);
        for (var read = 0; read < into.Length;)
        {
            var n = RandomAccess.Read(file, into[read..], at.Offset + read);
            if (n == 0)
                throw new IOException($"backlog {Name}: segment {at.Segment} ends before {at.Offset + into.Length}");
            read += n;
        }
    }

    /// <summary>
    /// The segment's handle for payload reads, opened once: the write journal reads every chunk back, and opening the
    /// file for each read was an open, fstat and close per chunk and owner. Closed when the segment is deleted.
    /// </summary>
    private SafeFileHandle PayloadReaderFor(long segment)
    {
        lock (_payloadReadersLock)
        {
            ObjectDisposedException.ThrowIf(_payloadReadersClosed, this);
            if (_payloadReaders.TryGetValue(segment, out var kept))
                return kept;
        }
        var opened = File.OpenHandle(SegmentPath(_dir, segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        lock (_payloadReadersLock)
        {
            if (!_payloadReadersClosed && _payloadReaders.TryAdd(segment, opened))
                return opened;
        }
        opened.Dispose(); // another read kept its own first, or the log closed meanwhile
        return PayloadReaderFor(segment);
    }

    /// <summary>Closes the payload readers of the segments <paramref name="which"/> selects; all of them for good when <paramref name="forGood"/>.</summary>
    private void ClosePayloadReaders(Func<long, bool> which, bool forGood = false)
    {
        List<KeyValuePair<long, SafeFileHandle>> closing;
        lock (_payloadReadersLock)
        {
            _payloadReadersClosed |= forGood;
            closing = _payloadReaders.Where(r => which(r.Key)).ToList();
            foreach (var (segment, _) in closing)
                _payloadReaders.Remove(segment);
        }
        foreach (var (_, handle) in closing)
            handle.Dispose();
    }

    private bool TryQueue(Work work)
    {
        lock (_work)
        {
            if (_closing)
                return false;
            _work.Enqueue(work);
            Monitor.Pulse(_work);
            return true;
        }
    }

    /// <summary>What the writer thread does: append a record, or write a reader's commit.</summary>
    private abstract record Work;

    /// <summary>A record to write, in a rented buffer given back once the append is answered.</summary>
    private sealed record AppendWork(byte[] Rented, int Length, int PayloadLength, TaskCompletionSource<AppendResult> Done) : Work
    {
        public ReadOnlyMemory<byte> Record => Rented.AsMemory(0, Length);

        /// <summary>Where the payload landed; set by the writer.</summary>
        public BacklogPosition? Payload { get; set; }

        /// <summary>Answers the append (once: false when it already was) and gives the buffer back.</summary>
        public bool Answer(AppendResult result)
        {
            if (!Done.TrySetResult(result))
                return false;
            GiveBack();
            return true;
        }

        public void GiveBack() => RentedBytes.Return(Rented);
    }

    private sealed record CommitWork(LogReader Reader, BacklogPosition Next, long Records, long Bytes, TaskCompletionSource Done) : Work;
}
