using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// One backend's on-disk backlog: an append-only log of the batches it could not take, replayed in order.
///
/// <code>
/// &lt;data_dir&gt;/&lt;escaped backend name&gt;.backlog/
///   00000000000000000001.seg   segments, rolled at SegmentBytes, deleted once fully consumed
///   commit                     the consumer's position: two slots overwritten in turn (CommitFile)
///   lock                       held exclusively (flock) while a process has the backlog open
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
/// <para><b>Appending</b> (producer): <see cref="AppendAsync"/> queues the encoded record to one writer thread, which
/// alone owns the segment file (its own thread: writes and fsyncs block, and must not hold up the thread pool). It
/// writes whatever is queued, fsyncs once for the group, then publishes the new durable end and completes the appends:
/// <see cref="AppendOutcome.Appended"/> means fsynced. A failed write or fsync is cut back (truncated) before anything
/// else is written, so the file never holds a half record followed by good ones.</para>
///
/// <para><b>Replaying</b> (consumer, one at a time): <see cref="PeekAsync"/> reads only up to the published durable
/// end, so it never sees a record still being written and never waits on the producer's fsync; the producer never
/// waits on the consumer either. <see cref="CommitAsync"/> makes the position after a record durable in the commit
/// file (FasterLog's named-iterator commit), then deletes fully consumed segments.</para>
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
    private readonly string _backend;
    private readonly BacklogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly FileStream _owner;
    private readonly Channel<PendingAppend> _appends =
        // Synchronous continuations: an append wakes the writer thread directly, not through the thread pool.
        Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = true });
    private Task _writerTask = Task.CompletedTask;

    // Owned by the writer task.
    private FileStream _writer;
    private long _writeSegment;
    private long _writeLength;   // bytes of the current segment that hold only whole, written records
    private bool _needsCutBack;  // a failed write may have left bytes after _writeLength that are not cut yet

    // Owned by the consumer.
    private readonly CommitFile _commit;
    private readonly HashSet<BacklogPosition> _damageSeenAtOpen = [];
    private BacklogPosition _read;
    private FileStream? _reader;
    private readonly Lock _payloadReadersLock = new();
    private readonly Dictionary<long, SafeFileHandle> _payloadReaders = []; // guarded by _payloadReadersLock
    private bool _payloadReadersClosed;
    private long _readerSegment = -1;
    private BacklogRecord? _head;

    // Shared between the writer task, the consumer and metric readers; held only for a few assignments, never over I/O.
    private readonly Lock _state = new();
    private BacklogPosition _end;
    private long _pendingRecords;
    private long _pendingBytes;
    private long _queuedBytes;
    private DateTimeOffset? _oldest;
    private long _replayed;
    private long _corruptSkipped;
    private bool _disposed;

    private FileBacklog(string dir, string backend, BacklogOptions options, TimeProvider time, ILogger logger,
        FileStream writer, long writeSegment, long writeLength, CommitFile commit, BacklogPosition read, FileStream owner)
    {
        _owner = owner;
        _dir = dir;
        _backend = backend;
        _options = options;
        _time = time;
        _logger = logger;
        _writer = writer;
        _writeSegment = writeSegment;
        _writeLength = writeLength;
        _commit = commit;
        _end = new BacklogPosition(writeSegment, writeLength);
        _read = read;
    }

    /// <summary>What opening found: torn bytes cut, corrupt records skipped, what waits.</summary>
    public RecoveryReport Recovery { get; private set; } = new(0, 0, 0, 0);

    /// <summary>Nothing appended and not yet committed.</summary>
    public bool IsEmpty => PendingRecords == 0;

    /// <summary>Bytes on disk of the records appended and not yet committed (headers included).</summary>
    public long PendingBytes { get { lock (_state) return _pendingBytes; } }

    /// <summary>Records appended and not yet committed.</summary>
    public long PendingRecords { get { lock (_state) return _pendingRecords; } }

    /// <summary>When the oldest waiting record was appended; null when nothing waits.</summary>
    public DateTimeOffset? OldestPendingAt { get { lock (_state) return _oldest; } }

    /// <summary>Corrupt records stepped over since open that <see cref="Recovery"/> did not already count.</summary>
    public long CorruptRecordsSkipped { get { lock (_state) return _corruptSkipped; } }

    /// <summary>Records committed since open (the replay rate is its derivative).</summary>
    public long ReplayedRecords { get { lock (_state) return _replayed; } }

    /// <summary>The folder of one backend's backlog, directly inside <paramref name="dataDir"/>: <c>&lt;escaped name&gt;.backlog</c>.</summary>
    public static string FolderFor(string dataDir, string backendName) =>
        Path.Combine(dataDir, FolderName.Of(backendName) + ".backlog");

    /// <summary>
    /// Opens (creating if needed) the backlog of <paramref name="backendName"/> under <paramref name="dataDir"/>,
    /// recovering it: torn tail cut, commit validated, pending records counted (every one's CRC checked). Throws
    /// <see cref="NotSupportedException"/> for segments written by a newer format version (they are left untouched).
    /// </summary>
    public static ValueTask<FileBacklog> OpenAsync(string dataDir, string backendName, BacklogOptions options, TimeProvider time, ILogger logger, CancellationToken ct) =>
        Synchronously(() => Open(dataDir, backendName, options, time, logger, ct), ct);

    private static FileBacklog Open(string dataDir, string backendName, BacklogOptions options, TimeProvider time, ILogger logger, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SegmentBytes, RecordFormat.SegmentHeader + RecordFormat.RecordHeader);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxBytes);
        var dir = FolderFor(dataDir, backendName);
        if (!Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir);
            DirectorySync.Fsync(Path.GetDirectoryName(dir)!);
        }
        var owner = TakeOwnership(dir);
        var opened = false;
        try
        {
            var backlog = Recover(dir, backendName, options, time, logger, owner, ct);
            opened = true;
            return backlog;
        }
        finally
        {
            if (!opened)
                owner.Dispose();
        }
    }

    /// <summary>
    /// An exclusive lock on <c>lock</c> in the folder (flock on Unix), so that a second proxy started on the same
    /// data_dir fails at start-up instead of interleaving writes into the same segments.
    /// </summary>
    private static FileStream TakeOwnership(string dir)
    {
        try
        {
            return new FileStream(Path.Combine(dir, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0);
        }
        catch (IOException e)
        {
            throw new IOException($"backlog {dir} is in use by another process (or another backlog object): {e.Message}", e);
        }
    }

    private static FileBacklog Recover(string dir, string backendName, BacklogOptions options, TimeProvider time, ILogger logger, FileStream owner, CancellationToken ct)
    {
        var segments = ListSegments(dir);
        foreach (var segment in segments)
            CheckHeader(dir, segment, segment == segments[^1], backendName, logger);
        if (segments.Count == 0)
        {
            CreateSegment(dir, 1, null).Dispose();
            segments = [1];
        }
        var last = segments[^1];
        var (torn, lastLength) = CutTornTail(SegmentPath(dir, last), last);
        var (commit, committed, unreadable) = CommitFile.Open(dir, options.FaultInjector);
        FileStream? writer = null;
        FileBacklog? backlog = null;
        var opened = false;
        try
        {
            if (unreadable)
                LogCommitUnreadable(logger, backendName);
            var (read, repaired) = StartFrom(dir, committed, segments, lastLength);
            if (repaired)
                LogCommitRepaired(logger, backendName, committed?.ToString() ?? "-", read.ToString());
            foreach (var consumed in segments.Where(s => s < read.Segment))
                TryDelete(SegmentPath(dir, consumed)); // a crash came between a commit and the deletion
            writer = new FileStream(SegmentPath(dir, last), FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            backlog = new FileBacklog(dir, backendName, options, time, logger, writer, last, lastLength, commit, read, owner);
            var corrupt = backlog.CountPending(ct);
            backlog.Recovery = new RecoveryReport(torn, corrupt, backlog._pendingRecords, backlog._pendingBytes, unreadable || repaired);
            if (torn > 0 || corrupt > 0 || unreadable || repaired)
                LogRecoveredWithDamage(logger, backendName, backlog._pendingRecords, backlog._pendingBytes, torn, corrupt);
            else
                LogRecovered(logger, backendName, backlog._pendingRecords, backlog._pendingBytes);
            backlog._writerTask = Task.Factory.StartNew(backlog.WriteLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            opened = true;
            return backlog;
        }
        finally
        {
            // Only when opening failed: close what was opened (the caller closes the lock file).
            if (!opened)
            {
                backlog?._reader?.Dispose();
                writer?.Dispose();
                commit.Dispose();
            }
        }
    }

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
        var (record, error) = RecordFormat.Encode(db, rp, _time.GetUtcNow().ToUnixTimeMilliseconds(), payload);
        if (record is null)
            return new AppendResult(AppendOutcome.TooLarge, error);
        lock (_state)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_options.MaxBytes > 0 && _pendingBytes + _queuedBytes + record.Length > _options.MaxBytes)
                return new AppendResult(AppendOutcome.Full,
                    $"backlog holds {_pendingBytes + _queuedBytes} bytes; {record.Length} more would exceed its cap of {_options.MaxBytes}");
            _queuedBytes += record.Length;
        }
        var append = new PendingAppend(record, payload.Sum(p => p.Length), new TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_appends.Writer.TryWrite(append))
        {
            lock (_state)
                _queuedBytes -= record.Length;
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

    private byte[] Read(BacklogPosition at, int length)
    {
        BacklogPosition end;
        lock (_state)
            end = _end;
        if (at.Segment > end.Segment || (at.Segment == end.Segment && at.Offset + length > end.Offset))
            throw new IOException($"backlog {_backend}: {length} bytes at {at} reach past the durable end {end}");
        var file = PayloadReaderFor(at.Segment);
        var bytes = GC.AllocateUninitializedArray<byte>(length);
        for (var read = 0; read < length;)
        {
            var n = RandomAccess.Read(file, bytes.AsSpan(read), at.Offset + read);
            if (n == 0)
                throw new IOException($"backlog {_backend}: segment {at.Segment} ends before {at.Offset + length}");
            read += n;
        }
        return bytes;
    }

    /// <summary>
    /// The segment's handle for payload reads, opened once: the write journal reads every chunk back, and opening the
    /// file for each read was an open, fstat and close per chunk and owner. Closed when the segment is deleted. Not
    /// the consumer's reader: that one walks the log a segment at a time (at open, every segment), keeping one open;
    /// payload reads come from several writers at once, from any segment not yet committed.
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
        opened.Dispose(); // another read kept its own first, or the backlog closed meanwhile
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

    /// <summary>The oldest record not yet committed, or null when none is durable yet. Never a partial record.</summary>
    public ValueTask<BacklogRecord?> PeekAsync(CancellationToken ct) =>
        Synchronously(() => ReadHead(), ct);

    /// <summary>
    /// The record behind <paramref name="record"/> (the head from <see cref="PeekAsync"/>), or null when none is durable
    /// yet. It stays where it is: not the head, not committed. Damage between them is stepped over.
    /// </summary>
    public ValueTask<BacklogRecord?> PeekBehindAsync(BacklogRecord record, CancellationToken ct) =>
        Synchronously(() => ReadFrom(record.Next), ct);

    /// <summary>
    /// Marks everything up to and including <paramref name="record"/> (the head from <see cref="PeekAsync"/>) consumed,
    /// durably, then deletes fully consumed segments. Committing an already committed record does nothing. Throws
    /// <see cref="IOException"/> when the commit cannot be written: then nothing changed and the record stays the head.
    /// </summary>
    public ValueTask CommitAsync(BacklogRecord record, CancellationToken ct) =>
        Synchronously(() => Commit(record), ct);

    private void Commit(BacklogRecord record)
    {
        if (_head is null || !_head.Position.Equals(record.Position))
        {
            if (record.Next.CompareTo(_read) <= 0)
                return;
            throw new InvalidOperationException($"backlog {_backend}: commit of the record at {record.Position}, but the head is at {_head?.Position ?? _read}");
        }
        _commit.Write(record.Next);
        _read = record.Next;
        _head = null;
        lock (_state)
        {
            _pendingRecords = Math.Max(0, _pendingRecords - 1);
            _pendingBytes = Math.Max(0, _pendingBytes - record.RecordBytes);
            _replayed++;
            if (_pendingRecords == 0)
                _oldest = null;
        }
        DeleteConsumedSegments(record.Next.Segment);
        try
        {
            ReadHead(); // sets OldestPendingAt to the next record's time
        }
        catch (IOException)
        {
            // Only a read ahead for the metric; the next PeekAsync reads again and reports the error to the replayer.
        }
    }

    /// <summary>
    /// Marks every record before <paramref name="next"/> consumed, durably, reading only their headers, then deletes
    /// fully consumed segments: for a consumer that knows where the records it appended end (the end of a payload) and
    /// needs none of them back. Throws <see cref="IOException"/> when a header or the commit cannot be read or written.
    /// </summary>
    public ValueTask CommitThroughAsync(BacklogPosition next, CancellationToken ct) =>
        Synchronously(() => CommitThrough(next), ct);

    private void CommitThrough(BacklogPosition next)
    {
        var (records, bytes) = CountThrough(next);
        if (records == 0)
            return;
        _commit.Write(next);
        _read = next;
        _head = null;
        lock (_state)
        {
            _pendingRecords = Math.Max(0, _pendingRecords - records);
            _pendingBytes = Math.Max(0, _pendingBytes - bytes);
            _replayed += records;
            if (_pendingRecords == 0)
                _oldest = null;
        }
        DeleteConsumedSegments(next.Segment);
    }

    /// <summary>Waits for queued appends to finish, then closes the files. Stop the consumer first.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_state)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        _appends.Writer.TryComplete();
        await _writerTask.ConfigureAwait(false);
        await _writer.DisposeAsync().ConfigureAwait(false);
        if (_reader is not null)
            await _reader.DisposeAsync().ConfigureAwait(false);
        ClosePayloadReaders(_ => true, forGood: true);
        _commit.Dispose();
        await _owner.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Runs file work that completes at once behind a ValueTask, as an async method would: a cancelled token gives a
    /// cancelled task, and failures travel in the task instead of being thrown at the call.
    /// </summary>
    private static ValueTask<T> Synchronously<T>(Func<T> work, CancellationToken ct)
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

    private static ValueTask Synchronously(Action work, CancellationToken ct) =>
        new(Synchronously(() => { work(); return true; }, ct).AsTask());

    private sealed record PendingAppend(byte[] Record, int PayloadLength, TaskCompletionSource<AppendResult> Done)
    {
        /// <summary>Where the payload landed; set by the writer.</summary>
        public BacklogPosition? Payload { get; set; }
    }
}
