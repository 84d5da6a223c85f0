namespace InfluxProxy.Host.Backlog;

/// <summary>
/// One named consumer of a <see cref="FileBacklog"/> (FasterLog's named iterator): it reads the records after its
/// committed position, in order, and commits its position durably in a file of its own, so it resumes at the exact
/// record after a restart. Segments are deleted once every reader of the log has passed them. One consumer at a
/// time; its commits are written by the log's writer thread, so they never block the caller's thread on an fsync.
/// </summary>
public sealed class LogReader
{
    private readonly FileBacklog _log;
    private readonly SegmentWalker _walker;
    private readonly HashSet<BacklogPosition> _damageSeenAtOpen;
    private BacklogRecord? _head;
    private BacklogPosition _cursor; // where the next read starts: the committed position, or past damage met since

    // Guarded by the log's state lock: the writer thread changes them on appends and commits, the reader on damage.
    internal long PendingRecordsField;
    internal long PendingBytesField;
    internal DateTimeOffset? OldestField;
    internal long CorruptSkippedField;
    internal BacklogPosition CommittedField;

    internal LogReader(FileBacklog log, string name, CommitFile commitFile, BacklogPosition committed, SegmentWalker walker,
        HashSet<BacklogPosition> damageSeenAtOpen)
    {
        _log = log;
        Name = name;
        CommitFile = commitFile;
        CommittedField = committed;
        _cursor = committed;
        _walker = walker;
        _damageSeenAtOpen = damageSeenAtOpen;
    }

    public string Name { get; }

    internal CommitFile CommitFile { get; }

    internal SegmentWalker Walker => _walker;

    /// <summary>Where the next record to read starts: the position last committed.</summary>
    public BacklogPosition Committed => _log.Locked(() => CommittedField);

    /// <summary>Nothing appended and not yet committed by this reader.</summary>
    public bool IsEmpty => PendingRecords == 0;

    /// <summary>Bytes on disk of the records not yet committed (headers included).</summary>
    public long PendingBytes => _log.Locked(() => PendingBytesField);

    /// <summary>Records not yet committed.</summary>
    public long PendingRecords => _log.Locked(() => PendingRecordsField);

    /// <summary>When the oldest waiting record was appended; null when nothing waits.</summary>
    public DateTimeOffset? OldestPendingAt => _log.Locked(() => OldestField);

    /// <summary>Corrupt records stepped over since open that the log's recovery report did not already count.</summary>
    public long CorruptRecordsSkipped => _log.Locked(() => CorruptSkippedField);

    /// <summary>The oldest record not yet committed, or null when none is durable yet. Never a partial record.</summary>
    public ValueTask<BacklogRecord?> PeekAsync(CancellationToken ct) =>
        FileBacklog.Synchronously(ReadHead, ct);

    /// <summary>
    /// The record behind <paramref name="record"/> (the head from <see cref="PeekAsync"/>), or null when none is durable
    /// yet. It stays where it is: not the head, not committed. Damage between them is stepped over.
    /// </summary>
    public ValueTask<BacklogRecord?> PeekBehindAsync(BacklogRecord record, CancellationToken ct) =>
        FileBacklog.Synchronously(() => _walker.Walk(record.Next, _log.DurableEnd).OfType<Walked.Record>().FirstOrDefault()?.Value, ct);

    /// <summary>Counted as read: for the log's own accounting when the commit is written (the writer thread).</summary>
    internal void CountCommitted(BacklogPosition next, long records, long bytes)
    {
        CommittedField = next;
        PendingRecordsField = Math.Max(0, PendingRecordsField - records);
        PendingBytesField = Math.Max(0, PendingBytesField - bytes);
        if (PendingRecordsField == 0)
            OldestField = null;
    }

    /// <summary>
    /// Marks everything up to and including <paramref name="record"/> (the head from <see cref="PeekAsync"/>) read,
    /// durably. Committing an already committed record does nothing. Throws <see cref="IOException"/> when the commit
    /// cannot be written: then nothing changed and the record stays the head.
    /// </summary>
    public async ValueTask CommitAsync(BacklogRecord record, CancellationToken ct)
    {
        var committed = Committed;
        if (_head is null || !_head.Position.Equals(record.Position))
        {
            if (record.Next.CompareTo(committed) <= 0)
                return;
            throw new InvalidOperationException($"backlog {_log.Name}: commit of the record at {record.Position}, but the head is at {_head?.Position ?? committed}");
        }
        await _log.CommitAsync(this, record.Next, 1, record.RecordBytes, ct);
        (_head, _cursor) = (null, record.Next);
        _walker.CloseBefore(record.Next.Segment);
        try
        {
            ReadHead(); // sets OldestPendingAt to the next record's time
        }
        catch (IOException)
        {
            // Only a read ahead for the metric; the next PeekAsync reads again and reports the error to the consumer.
        }
    }

    /// <summary>
    /// Marks every record before <paramref name="next"/> read, durably: for a consumer that appended them and knows
    /// how many they are and their size on disk (<see cref="AppendResult.RecordBytes"/>), and needs none of them back.
    /// Throws <see cref="IOException"/> when the commit cannot be written.
    /// </summary>
    public async ValueTask CommitThroughAsync(BacklogPosition next, long records, long bytes, CancellationToken ct)
    {
        if (next.CompareTo(Committed) <= 0)
            return;
        await _log.CommitAsync(this, next, records, bytes, ct);
        (_head, _cursor) = (null, next);
        _walker.CloseBefore(next.Segment);
    }

    /// <summary>The head record (cached until committed), read only up to the published durable end.</summary>
    private BacklogRecord? ReadHead()
    {
        if (_head is not null)
            return _head;
        var end = _log.DurableEnd;
        foreach (var walked in _walker.Walk(_cursor, end))
        {
            switch (walked)
            {
                case Walked.Record found:
                    (_head, _cursor) = (found.Value, found.Value.Position);
                    _log.Locked(() => OldestField = PendingRecordsField > 0 ? found.Value.AppendedAt : OldestField);
                    return _head;
                case Walked.Damage damage when !_damageSeenAtOpen.Contains(damage.At):
                    // Damage that appeared after open: it was counted as pending (as valid records) until now.
                    _log.ReportDamage(this, damage);
                    break;
                case Walked.SegmentGone gone:
                    _log.ReportSegmentGone(gone.Segment);
                    break;
            }
        }
        _cursor = end;
        // Caught up with the durable end: nothing waits, whatever the counters drifted to (they only drift when bit
        // rot appeared after open).
        _log.Locked(() =>
        {
            if (_log.DurableEndLocked.Equals(end))
                (PendingRecordsField, PendingBytesField, OldestField) = (0, 0, null);
        });
        return null;
    }
}
