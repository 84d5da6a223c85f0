using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace InfluxProxy.Host.Backlog;

/// <summary>The consumer side: reads up to the published durable end, steps over damage, follows segments.</summary>
public sealed partial class FileBacklog
{
    /// <summary>The head record (cached until committed), reading only up to the published durable end.</summary>
    private BacklogRecord? ReadHead()
    {
        if (_head is not null)
            return _head;
        while (true)
        {
            BacklogPosition end;
            lock (_state)
                end = _end;
            var read = _read;
            if (read.CompareTo(end) >= 0)
            {
                lock (_state)
                {
                    // The consumer caught up with the durable end: nothing waits, whatever the counters drifted to
                    // (they can only drift when bit rot appeared after open).
                    if (_end.Equals(end))
                    {
                        _pendingRecords = 0;
                        _pendingBytes = 0;
                        _oldest = null;
                    }
                }
                return null;
            }
            if (!TryOpenAt(ref read, end, logMissing: true, out var file, out var limit))
            {
                _read = read;
                continue;
            }
            var (record, skipped, firstBad) = RecordFormat.ReadValid(file, read.Segment, read.Offset, limit);
            if (skipped > 0 && !_damageSeenAtOpen.Contains(new BacklogPosition(read.Segment, firstBad)))
            {
                // Damage that appeared after open: it was counted as pending (as valid records) until now.
                var resumeAt = record?.Position.Offset ?? limit;
                LogCorruptSkipped(_logger, _backend, skipped, read.Segment, firstBad, resumeAt - firstBad);
                lock (_state)
                {
                    _pendingBytes = Math.Max(0, _pendingBytes - (resumeAt - firstBad));
                    _pendingRecords = Math.Max(0, _pendingRecords - skipped);
                    _corruptSkipped += skipped;
                }
            }
            if (record is null)
            {
                _read = new BacklogPosition(read.Segment, limit);
                continue;
            }
            _read = record.Position;
            _head = record;
            lock (_state)
            {
                if (_pendingRecords > 0)
                    _oldest = record.AppendedAt;
            }
            return record;
        }
    }

    /// <summary>The first valid record at or after <paramref name="position"/>, up to the published durable end.</summary>
    private BacklogRecord? ReadFrom(BacklogPosition position)
    {
        while (true)
        {
            BacklogPosition end;
            lock (_state)
                end = _end;
            if (position.CompareTo(end) >= 0)
                return null;
            if (!TryOpenAt(ref position, end, logMissing: false, out var file, out var limit))
                continue;
            if (RecordFormat.ReadValid(file, position.Segment, position.Offset, limit).Record is { } record)
                return record;
            position = new BacklogPosition(position.Segment, limit);
        }
    }

    /// <summary>The records (and their bytes) from the read position up to <paramref name="next"/>, from their headers.</summary>
    private (long Records, long Bytes) CountThrough(BacklogPosition next)
    {
        var (records, bytes) = (0L, 0L);
        var at = _read;
        var header = new byte[RecordFormat.RecordHeader];
        while (at.CompareTo(next) < 0)
        {
            if (!TryOpenAt(ref at, next, logMissing: true, out var file, out _))
                continue;
            if (RandomAccess.Read(file, header, at.Offset) < header.Length || BinaryPrimitives.ReadUInt32BigEndian(header) != RecordFormat.Marker)
                throw new IOException($"backlog {_backend}: no record starts at {at}");
            var size = RecordFormat.RecordHeader + BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
            at = at with { Offset = at.Offset + size };
            records++;
            bytes += size;
        }
        return (records, bytes);
    }

    /// <summary>At open: counts the valid records between the committed position and the end; returns the corrupt spots.</summary>
    private int CountPending(CancellationToken ct)
    {
        var position = _read;
        var corrupt = 0;
        while (position.CompareTo(_end) < 0)
        {
            ct.ThrowIfCancellationRequested();
            if (!TryOpenAt(ref position, _end, logMissing: false, out var file, out var limit))
                continue;
            var (record, skipped, firstBad) = RecordFormat.ReadValid(file, position.Segment, position.Offset, limit);
            corrupt += skipped;
            if (skipped > 0)
                _damageSeenAtOpen.Add(new BacklogPosition(position.Segment, firstBad)); // reported once, in Recovery
            if (record is null)
            {
                position = new BacklogPosition(position.Segment, limit);
                continue;
            }
            _pendingRecords++;
            _pendingBytes += record.RecordBytes;
            _oldest ??= record.AppendedAt;
            position = record.Next;
        }
        return corrupt;
    }

    /// <summary>
    /// The segment to read at <paramref name="position"/> and how far it may be read; false (with the position moved
    /// on) when the segment is gone or exhausted, so the caller looks again.
    /// </summary>
    private bool TryOpenAt(ref BacklogPosition position, BacklogPosition end, bool logMissing, out SafeFileHandle file, out long limit)
    {
        limit = 0;
        if (ReaderFor(position.Segment) is not { } handle)
        {
            // Deleted by hand while we run: what it held is gone; carry on with the next segment.
            if (logMissing)
                LogSegmentMissing(_logger, _backend, position.Segment);
            position = position.Segment < end.Segment ? NextSegmentStart(position.Segment, end) : end;
            file = null!;
            return false;
        }
        file = handle;
        limit = position.Segment == end.Segment ? end.Offset : RandomAccess.GetLength(handle);
        if (position.Offset < limit)
            return true;
        position = NextSegmentStart(position.Segment, end);
        return false;
    }

    /// <summary>A read handle on the segment (kept open while the consumer is in it); null when the file is gone.</summary>
    private SafeFileHandle? ReaderFor(long segment)
    {
        if (_readerSegment != segment || _reader is null)
        {
            _reader?.Dispose();
            _reader = null;
            _readerSegment = -1;
            try
            {
                _reader = new FileStream(SegmentPath(_dir, segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            }
            catch (FileNotFoundException)
            {
                return null; // the caller logs and moves on
            }
            _readerSegment = segment;
        }
        return _reader.SafeFileHandle;
    }

    /// <summary>The start of the first segment after <paramref name="segment"/>, or <paramref name="end"/> when none is durable.</summary>
    private BacklogPosition NextSegmentStart(long segment, BacklogPosition end)
    {
        var next = ListSegments(_dir).FirstOrDefault(s => s > segment);
        // A segment after the durable end may be one the writer just started: nothing in it is published yet.
        return next == 0 || next > end.Segment ? end : new BacklogPosition(next, RecordFormat.SegmentHeader);
    }


    private void DeleteConsumedSegments(long current)
    {
        ClosePayloadReaders(segment => segment < current);
        foreach (var segment in ListSegments(_dir).Where(s => s < current))
        {
            if (_readerSegment == segment)
            {
                _reader?.Dispose();
                _reader = null;
                _readerSegment = -1;
            }
            try
            {
                File.Delete(SegmentPath(_dir, segment));
            }
            catch (IOException e)
            {
                LogDeleteFailed(_logger, _backend, segment, e.Message); // tried again after the next commit
            }
        }
    }
}
