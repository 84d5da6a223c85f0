using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// One backend's on-disk backlog: an append-only log of the batches it could not take, replayed in order.
///
/// <code>
/// &lt;data_dir&gt;/&lt;escaped backend name&gt;.backlog/
///   00000000000000000001.seg   segments, rolled at SegmentBytes, deleted once fully consumed
///   commit                     the consumer's position, replaced atomically (write temp, fsync, rename)
///
/// segment := header record*
/// header  := "IPXB" u32 version=1                                              (8 bytes)
/// record  := u32 marker=0x1B0C5EED | u32 length N | u32 crc32(body) | body (N bytes)   (big-endian)
/// body    := u16 len | db utf8 | u16 len | rp utf8 | i64 appended unix ms | payload (line protocol, ns)
/// commit  := "IPXC" u32 version=1 | i64 segment | i64 offset | u32 crc32(previous 24 bytes)
/// </code>
///
/// Append is durable when it returns (the record is fsynced before the end position is published); the consumer
/// reads only up to that published end, so it never sees a half-written record and never waits on an fsync.
/// Unlike the Go original's <c>.dat</c>/<c>.rec</c> pair, every record carries a checksum and a marker: at open
/// a torn tail is cut and reported, and a corrupt record anywhere is skipped (resynchronising on the next valid
/// marker) and counted, never replayed as garbage and never a crash loop. Lengths are capped, so bit rot cannot
/// make us allocate gigabytes.
/// </summary>
public sealed partial class FileBacklog : IAsyncDisposable
{
    private const uint Marker = 0x1B0C5EED;
    private const int RecordHeader = 12;
    private const int SegmentHeader = 8;
    private const int MaxBody = 256 * 1024 * 1024;
    private static readonly byte[] SegmentMagic = "IPXB\0\0\0\u0001"u8.ToArray();
    private static readonly byte[] CommitMagic = "IPXC\0\0\0\u0001"u8.ToArray();

    private readonly string _dir;
    private readonly BacklogOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _appendLock = new(1, 1);

    // Producer side, guarded by _appendLock.
    private FileStream _writer;
    private long _writeSegment;

    // Published by the producer after fsync; read by the consumer.
    private Position _end;

    // Consumer side: one consumer at a time.
    private Position _read;
    private FileStream? _reader;
    private long _readerSegment = -1;
    private BacklogRecord? _head;

    private long _pendingRecords;
    private long _pendingBytes;
    private long _corruptSkipped;

    private FileBacklog(string dir, BacklogOptions options, TimeProvider time, ILogger logger, FileStream writer, long writeSegment, Position end, Position read)
    {
        _dir = dir;
        _options = options;
        _time = time;
        _logger = logger;
        _writer = writer;
        _writeSegment = writeSegment;
        _end = end;
        Volatile.Write(ref _read, read);
    }

    public RecoveryReport Recovery { get; private set; } = new(0, 0, 0, 0);

    public bool IsEmpty => Volatile.Read(ref _end) == Volatile.Read(ref _read);
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);
    public long PendingRecords => Interlocked.Read(ref _pendingRecords);
    public long CorruptRecordsSkipped => Interlocked.Read(ref _corruptSkipped);

    /// <summary>When the oldest waiting record was appended; null when nothing waits.</summary>
    public DateTimeOffset? OldestPendingAt { get; private set; }

    /// <summary>The folder of one backend's backlog: its name with every byte outside <c>[A-Za-z0-9._-]</c> escaped.</summary>
    public static string FolderFor(string dataDir, string backendName)
    {
        var safe = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(backendName))
            safe.Append(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'.' or (byte)'_' or (byte)'-' ? (char)b : $"%{b:X2}");
        return Path.Combine(dataDir, safe + ".backlog");
    }

    public static ValueTask<FileBacklog> OpenAsync(string dataDir, string backendName, BacklogOptions options, TimeProvider time, ILogger logger, CancellationToken ct)
    {
        var dir = FolderFor(dataDir, backendName);
        Directory.CreateDirectory(dir);
        var segments = ListSegments(dir);
        if (segments.Count == 0)
        {
            CreateSegment(dir, 1).Dispose();
            segments = [1];
        }
        var (tornBytes, lastLength) = CutTornTail(SegmentPath(dir, segments[^1]));
        var read = ClampToSegments(ReadCommit(dir, logger, backendName), segments, lastLength);
        var writer = OpenForAppend(SegmentPath(dir, segments[^1]));
        var backlog = new FileBacklog(dir, options, time, logger, writer, segments[^1], new Position(segments[^1], lastLength), read);
        backlog.CountPending(ct);
        backlog.Recovery = new RecoveryReport(tornBytes, (int)backlog.CorruptRecordsSkipped, backlog.PendingRecords, backlog.PendingBytes);
        if (tornBytes > 0 || backlog.CorruptRecordsSkipped > 0 || backlog.PendingRecords > 0)
            LogRecovered(logger, backendName, backlog.PendingRecords, backlog.PendingBytes, tornBytes, backlog.CorruptRecordsSkipped);
        Interlocked.Exchange(ref backlog._corruptSkipped, 0);
        return ValueTask.FromResult(backlog);
    }

    /// <summary>Appends one batch durably; <see cref="AppendOutcome.Full"/> when the cap would be exceeded.</summary>
    public async ValueTask<AppendResult> AppendAsync(string db, string rp, ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        var record = Encode(db, rp, _time.GetUtcNow().ToUnixTimeMilliseconds(), payload.Span);
        if (_options.MaxBytes > 0 && PendingBytes + record.Length > _options.MaxBytes)
            return new AppendResult(AppendOutcome.Full, null);
        await _appendLock.WaitAsync(ct);
        try
        {
            if (_writer.Length + record.Length > _options.SegmentBytes && _writer.Length > SegmentHeader)
                Roll();
            var before = _writer.Length;
            try
            {
                _options.FaultInjector?.Invoke(_writer, record);
                _writer.Write(record);
                _writer.Flush(flushToDisk: true);
            }
            catch (IOException e)
            {
                CutBack(before);
                return new AppendResult(AppendOutcome.IoError, e.Message);
            }
            Interlocked.Increment(ref _pendingRecords);
            Interlocked.Add(ref _pendingBytes, record.Length);
            OldestPendingAt ??= _time.GetUtcNow();
            Volatile.Write(ref _end, new Position(_writeSegment, _writer.Length));
            return new AppendResult(AppendOutcome.Appended, null);
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>The oldest record not yet committed, or null when none is durable.</summary>
    public ValueTask<BacklogRecord?> PeekAsync(CancellationToken ct)
    {
        if (_head is not null)
            return ValueTask.FromResult<BacklogRecord?>(_head);
        while (true)
        {
            var end = Volatile.Read(ref _end);
            var read = Volatile.Read(ref _read);
            if (read == end)
                return ValueTask.FromResult<BacklogRecord?>(null);
            var limit = read.Segment == end.Segment ? end.Offset : SegmentLength(read.Segment);
            if (read.Offset >= limit)
            {
                Volatile.Write(ref _read, NextSegmentStart(read.Segment, end));
                continue;
            }
            var (record, next, skipped) = ReadRecord(ReaderFor(read.Segment), read.Offset, limit);
            if (skipped > 0)
            {
                Interlocked.Add(ref _corruptSkipped, skipped);
                LogCorruptSkipped(_logger, _dir, skipped, read.Segment, read.Offset);
            }
            if (record is null)
            {
                Volatile.Write(ref _read, new Position(read.Segment, next));
                continue;
            }
            _head = record with { Position = read, Next = new Position(read.Segment, next) };
            OldestPendingAt = _head.AppendedAt;
            return ValueTask.FromResult<BacklogRecord?>(_head);
        }
    }

    /// <summary>Marks everything up to and including <paramref name="record"/> consumed, durably.</summary>
    public ValueTask CommitAsync(BacklogRecord record, CancellationToken ct)
    {
        WriteCommit(record.Next);
        Volatile.Write(ref _read, record.Next);
        _head = null;
        Interlocked.Decrement(ref _pendingRecords);
        Interlocked.Add(ref _pendingBytes, -(RecordHeader + record.BodyLength));
        if (IsEmpty)
            OldestPendingAt = null;
        DeleteConsumedSegments(record.Next.Segment);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _appendLock.WaitAsync();
        try
        {
            await _writer.DisposeAsync();
            if (_reader is not null)
                await _reader.DisposeAsync();
        }
        finally
        {
            _appendLock.Release();
        }
    }

    private static byte[] Encode(string db, string rp, long appendedMs, ReadOnlySpan<byte> payload)
    {
        var dbBytes = Encoding.UTF8.GetBytes(db);
        var rpBytes = Encoding.UTF8.GetBytes(rp);
        var bodyLength = 2 + dbBytes.Length + 2 + rpBytes.Length + 8 + payload.Length;
        var record = new byte[RecordHeader + bodyLength];
        var body = record.AsSpan(RecordHeader);
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)dbBytes.Length);
        dbBytes.CopyTo(body[2..]);
        var at = 2 + dbBytes.Length;
        BinaryPrimitives.WriteUInt16BigEndian(body[at..], (ushort)rpBytes.Length);
        rpBytes.CopyTo(body[(at + 2)..]);
        at += 2 + rpBytes.Length;
        BinaryPrimitives.WriteInt64BigEndian(body[at..], appendedMs);
        payload.CopyTo(body[(at + 8)..]);
        BinaryPrimitives.WriteUInt32BigEndian(record, Marker);
        BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(4), (uint)bodyLength);
        BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(8), Crc32.HashToUInt32(body));
        return record;
    }

    private static BacklogRecord? Decode(ReadOnlyMemory<byte> body)
    {
        var span = body.Span;
        if (span.Length < 12)
            return null;
        var dbLength = BinaryPrimitives.ReadUInt16BigEndian(span);
        if (span.Length < 2 + dbLength + 2 + 8)
            return null;
        var rpLength = BinaryPrimitives.ReadUInt16BigEndian(span[(2 + dbLength)..]);
        var at = 4 + dbLength + rpLength;
        if (span.Length < at + 8)
            return null;
        return new BacklogRecord(
            null!, null!,
            Encoding.UTF8.GetString(span.Slice(2, dbLength)),
            Encoding.UTF8.GetString(span.Slice(4 + dbLength, rpLength)),
            body[(at + 8)..],
            DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(span[at..])),
            body.Length);
    }

    /// <summary>
    /// Reads the record at <paramref name="offset"/>. A bad one is skipped by searching forward for the next
    /// valid record; returns that record (or null at the limit), the offset after it and how many bad spots were skipped.
    /// </summary>
    private static (BacklogRecord? Record, long Next, int Skipped) ReadRecord(FileStream file, long offset, long limit)
    {
        var skipped = 0;
        var header = new byte[RecordHeader];
        while (offset < limit)
        {
            if (TryRead(file, offset, limit, header, out var body, out var next) && Decode(body) is { } record)
                return (record, next, skipped);
            skipped++;
            offset = FindMarker(file, offset + 1, limit);
        }
        return (null, limit, skipped);
    }

    private static bool TryRead(FileStream file, long offset, long limit, byte[] header, out ReadOnlyMemory<byte> body, out long next)
    {
        body = default;
        next = offset;
        if (limit - offset < RecordHeader || RandomAccess.Read(file.SafeFileHandle, header, offset) < RecordHeader)
            return false;
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        if (BinaryPrimitives.ReadUInt32BigEndian(header) != Marker || length > MaxBody || offset + RecordHeader + length > limit)
            return false;
        var bytes = new byte[length];
        if (RandomAccess.Read(file.SafeFileHandle, bytes, offset + RecordHeader) < length
            || Crc32.HashToUInt32(bytes) != BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)))
            return false;
        body = bytes;
        next = offset + RecordHeader + length;
        return true;
    }

    /// <summary>The next offset holding the record marker, or <paramref name="limit"/>.</summary>
    private static long FindMarker(FileStream file, long from, long limit)
    {
        var buffer = new byte[64 * 1024];
        var marker = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(marker, Marker);
        for (var at = from; at < limit; at += buffer.Length - 3)
        {
            var read = RandomAccess.Read(file.SafeFileHandle, buffer.AsSpan(0, (int)Math.Min(buffer.Length, limit - at)), at);
            var found = buffer.AsSpan(0, read).IndexOf(marker);
            if (found >= 0)
                return at + found;
            if (read < buffer.Length)
                break;
        }
        return limit;
    }

    /// <summary>Counts what waits between the committed position and the end, skipping corrupt records.</summary>
    private void CountPending(CancellationToken ct)
    {
        var position = _read;
        var end = _end;
        DateTimeOffset? oldest = null;
        while (position != end)
        {
            ct.ThrowIfCancellationRequested();
            var limit = position.Segment == end.Segment ? end.Offset : SegmentLength(position.Segment);
            if (position.Offset >= limit)
            {
                position = NextSegmentStart(position.Segment, end);
                continue;
            }
            var (record, next, skipped) = ReadRecord(ReaderFor(position.Segment), position.Offset, limit);
            Interlocked.Add(ref _corruptSkipped, skipped);
            if (record is not null)
            {
                _pendingRecords++;
                _pendingBytes += RecordHeader + record.BodyLength;
                oldest ??= record.AppendedAt;
            }
            position = new Position(position.Segment, next);
        }
        OldestPendingAt = oldest;
    }

    private FileStream ReaderFor(long segment)
    {
        if (_readerSegment == segment && _reader is not null)
            return _reader;
        _reader?.Dispose();
        _reader = new FileStream(SegmentPath(_dir, segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _readerSegment = segment;
        return _reader;
    }

    private Position NextSegmentStart(long segment, Position end)
    {
        var next = ListSegments(_dir).FirstOrDefault(s => s > segment);
        return next == 0 || next > end.Segment ? end : new Position(next, SegmentHeader);
    }

    private long SegmentLength(long segment) => new FileInfo(SegmentPath(_dir, segment)).Length;

    private void Roll()
    {
        _writer.Dispose();
        _writeSegment++;
        _writer = CreateSegment(_dir, _writeSegment);
    }

    /// <summary>After a failed write: drop whatever part of the record reached the file.</summary>
    private void CutBack(long length)
    {
        try
        {
            _writer.SetLength(length);
            _writer.Position = length;
            _writer.Flush(flushToDisk: true);
        }
        catch (IOException e)
        {
            // The disk refuses even the truncation; the partial record is cut as a torn tail at the next open.
            LogCutBackFailed(_logger, _dir, e.Message);
        }
    }

    private void DeleteConsumedSegments(long current)
    {
        foreach (var segment in ListSegments(_dir).Where(s => s < current))
        {
            if (_readerSegment == segment)
            {
                _reader?.Dispose();
                _reader = null;
                _readerSegment = -1;
            }
            File.Delete(SegmentPath(_dir, segment));
        }
    }

    private void WriteCommit(Position position)
    {
        var bytes = new byte[28];
        CommitMagic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(8), position.Segment);
        BinaryPrimitives.WriteInt64BigEndian(bytes.AsSpan(16), position.Offset);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(24), Crc32.HashToUInt32(bytes.AsSpan(0, 24)));
        var temp = Path.Combine(_dir, "commit.tmp");
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, Path.Combine(_dir, "commit"), overwrite: true);
        DirectorySync.Sync(_dir);
    }

    private static Position? ReadCommit(string dir, ILogger logger, string backend)
    {
        var path = Path.Combine(dir, "commit");
        if (!File.Exists(path))
            return null;
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length != 28 || !bytes.AsSpan(0, 8).SequenceEqual(CommitMagic)
            || Crc32.HashToUInt32(bytes.AsSpan(0, 24)) != BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(24)))
        {
            LogCommitUnreadable(logger, backend);
            return null;
        }
        return new Position(BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(8)), BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(16)));
    }

    /// <summary>
    /// Where replay starts: no (readable) commit means "replay everything there is", a commit past the data means
    /// "nothing is left", a commit into a deleted segment means "from the next one".
    /// </summary>
    private static Position ClampToSegments(Position? commit, List<long> segments, long lastLength)
    {
        if (commit is not { } c)
            return new Position(segments[0], SegmentHeader);
        if (c.Segment > segments[^1])
            return new Position(segments[^1], lastLength);
        if (!segments.Contains(c.Segment))
            return new Position(segments.First(s => s > c.Segment), SegmentHeader);
        return new Position(c.Segment, Math.Clamp(c.Offset, SegmentHeader, c.Segment == segments[^1] ? lastLength : long.MaxValue));
    }

    /// <summary>Cuts an incomplete or invalid record at the very end of the last segment; returns the bytes cut and the new length.</summary>
    private static (long Cut, long Length) CutTornTail(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        if (file.Length < SegmentHeader)
        {
            file.SetLength(0);
            file.Write(SegmentMagic);
            file.Flush(flushToDisk: true);
            return (0, SegmentHeader);
        }
        var header = new byte[RecordHeader];
        var offset = (long)SegmentHeader;
        var goodEnd = offset;
        while (offset < file.Length)
        {
            if (TryRead(file, offset, file.Length, header, out _, out var next))
            {
                goodEnd = offset = next;
                continue;
            }
            offset = FindMarker(file, offset + 1, file.Length); // a corrupt middle record: later ones still count
        }
        var cut = file.Length - goodEnd;
        if (cut > 0)
        {
            file.SetLength(goodEnd);
            file.Flush(flushToDisk: true);
        }
        return (cut, goodEnd);
    }

    private static FileStream CreateSegment(string dir, long segment)
    {
        var file = new FileStream(SegmentPath(dir, segment), FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        file.Write(SegmentMagic);
        file.Flush(flushToDisk: true);
        DirectorySync.Sync(dir);
        return file;
    }

    private static FileStream OpenForAppend(string path) =>
        new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);

    private static string SegmentPath(string dir, long segment) => Path.Combine(dir, $"{segment:D20}.seg");

    private static List<long> ListSegments(string dir) =>
        Directory.EnumerateFiles(dir, "*.seg")
            .Select(p => long.TryParse(Path.GetFileNameWithoutExtension(p), out var id) ? id : -1)
            .Where(id => id > 0)
            .Order()
            .ToList();
}
