using System.Buffers.Binary;

namespace InfluxProxy.Host.Backlog;

/// <summary>Opening: segment headers, the torn tail, where each reader starts and what waits for it; and the segment files themselves.</summary>
public sealed partial class FileBacklog
{
    private static FileBacklog Open(string dataDir, string name, BacklogOptions options, TimeProvider time, ILogger logger, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SegmentBytes, RecordFormat.SegmentHeader + RecordFormat.RecordHeader);
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxBytes);
        var dir = FolderFor(dataDir, name);
        if (!Directory.Exists(dir))
        {
            Directory.CreateDirectory(dir);
            DirectorySync.Fsync(Path.GetDirectoryName(dir)!);
        }
        var owner = TakeOwnership(dir);
        var opened = new List<IDisposable> { owner };
        try
        {
            var backlog = Recover(dir, name, options, time, logger, owner, opened, ct);
            opened.Clear();
            return backlog;
        }
        finally
        {
            // Only when opening failed: close what was opened.
            foreach (var resource in opened)
                resource.Dispose();
        }
    }

    /// <summary>The folder of one backend's log, directly inside <paramref name="dataDir"/>: <c>&lt;escaped name&gt;.backlog</c>.</summary>
    public static string FolderFor(string dataDir, string name) =>
        Path.Combine(dataDir, FolderName.Of(name) + ".backlog");

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

    private static FileBacklog Recover(string dir, string name, BacklogOptions options, TimeProvider time, ILogger logger, FileStream owner,
        List<IDisposable> opened, CancellationToken ct)
    {
        var segments = ListSegments(dir);
        foreach (var segment in segments)
            CheckHeader(dir, segment, segment == segments[^1], name, logger);
        if (segments.Count == 0)
        {
            CreateSegment(dir, 1, null).Dispose();
            segments = [1];
        }
        var last = segments[^1];
        var (torn, lastLength) = CutTornTail(dir, last);
        var end = new BacklogPosition(last, lastLength);
        var starts = new List<(string Name, CommitFile File, BacklogPosition Start)>();
        var repairedAny = false;
        foreach (var reader in options.ReaderNames)
        {
            var (commit, committed, unreadable) = CommitFile.Open(dir, CommitFileName(options, reader), options.FaultInjector);
            opened.Add(commit);
            if (unreadable)
                LogCommitUnreadable(logger, name);
            var (start, repaired) = StartFrom(dir, committed, segments, lastLength);
            if (repaired)
                LogCommitRepaired(logger, name, committed?.ToString() ?? "-", start.ToString());
            repairedAny |= unreadable || repaired;
            starts.Add((reader, commit, start));
        }
        var passed = starts.Min(s => s.Start.Segment);
        foreach (var consumed in segments.Where(s => s < passed))
            TryDelete(SegmentPath(dir, consumed)); // a crash came between a commit and the deletion
        var writer = new FileStream(SegmentPath(dir, last), FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        opened.Add(writer);
        var backlog = new FileBacklog(dir, name, options, time, logger, writer, last, lastLength, owner);
        var damage = new Dictionary<BacklogPosition, int>();
        backlog._readers = [.. starts.Select(s => CountPending(backlog, s.Name, s.File, s.Start, end, damage, opened, ct))];
        var corrupt = damage.Values.Sum();
        backlog.Recovery = new RecoveryReport(torn, corrupt, repairedAny);
        var (records, bytes) = (backlog.Reader.PendingRecordsField, backlog.Reader.PendingBytesField);
        if (torn > 0 || corrupt > 0 || repairedAny)
            LogRecoveredWithDamage(logger, name, records, bytes, torn, corrupt);
        else
            LogRecovered(logger, name, records, bytes);
        backlog.StartWriter();
        return backlog;
    }

    /// <summary>The first reader's commit file is <c>commit</c>; any other's <c>commit.&lt;name&gt;</c>.</summary>
    private static string CommitFileName(BacklogOptions options, string reader) =>
        reader == options.ReaderNames[0] ? "commit" : "commit." + FolderName.Of(reader);

    /// <summary>
    /// A reader at <paramref name="start"/>, with the valid records up to the end counted; the damaged spots it met are
    /// added to <paramref name="damage"/> (by where they begin: two readers meeting the same damage count it once).
    /// </summary>
    private static LogReader CountPending(FileBacklog backlog, string name, CommitFile commit, BacklogPosition start, BacklogPosition end,
        Dictionary<BacklogPosition, int> damage, List<IDisposable> opened, CancellationToken ct)
    {
        var seen = new HashSet<BacklogPosition>();
        var walker = new SegmentWalker(backlog._dir);
        opened.Add(walker);
        var reader = new LogReader(backlog, name, commit, start, walker, seen);
        foreach (var walked in walker.Walk(start, end))
        {
            ct.ThrowIfCancellationRequested();
            switch (walked)
            {
                case Walked.Record found:
                    reader.PendingRecordsField++;
                    reader.PendingBytesField += found.Value.RecordBytes;
                    reader.OldestField ??= found.Value.AppendedAt;
                    break;
                case Walked.Damage spot:
                    // Reported once, in Recovery; met again while reading, it is not counted twice.
                    seen.Add(spot.At);
                    damage[spot.At] = spot.Spots;
                    break;
            }
        }
        return reader;
    }

    /// <summary>
    /// Where a reader starts, and whether its commit had to be corrected: no commit means "everything there is"; a
    /// commit past the data means "nothing is left"; one into a missing segment means "from the next one".
    /// </summary>
    private static (BacklogPosition Start, bool Repaired) StartFrom(string dir, BacklogPosition? commit, List<long> segments, long lastLength)
    {
        var header = RecordFormat.SegmentHeader;
        if (commit is not { } c)
            return (new BacklogPosition(segments[0], header), false);
        var last = segments[^1];
        if (c.Segment > last || (c.Segment == last && c.Offset > lastLength))
            return (new BacklogPosition(last, lastLength), true);
        if (!segments.Contains(c.Segment))
            return (new BacklogPosition(segments.First(s => s > c.Segment), header), true);
        var length = c.Segment == last ? lastLength : new FileInfo(SegmentPath(dir, c.Segment)).Length;
        if (c.Offset < header || c.Offset > length)
            return (new BacklogPosition(c.Segment, Math.Clamp(c.Offset, header, length)), true);
        return (c, false);
    }

    /// <summary>Cuts everything after the last valid record of the last segment; returns the bytes cut and the new length.</summary>
    private static (long Cut, long Length) CutTornTail(string dir, long segment)
    {
        using var file = new FileStream(SegmentPath(dir, segment), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        var length = file.Length;
        if (length < RecordFormat.SegmentHeader)
        {
            // A crash while the segment was being started: its header is incomplete.
            file.SetLength(0);
            file.Write(RecordFormat.SegmentHeaderBytes());
            file.Flush(flushToDisk: true);
            return (length, RecordFormat.SegmentHeader);
        }
        using var walker = new SegmentWalker(dir);
        var goodEnd = walker.Walk(new BacklogPosition(segment, RecordFormat.SegmentHeader), new BacklogPosition(segment, length))
            .OfType<Walked.Record>()
            .LastOrDefault()?.Value.Next.Offset ?? RecordFormat.SegmentHeader;
        if (goodEnd < length)
        {
            file.SetLength(goodEnd);
            file.Flush(flushToDisk: true);
        }
        return (length - goodEnd, goodEnd);
    }

    /// <summary>Refuses a segment of a newer format; logs one whose header is damaged (its records are still checked one by one).</summary>
    private static void CheckHeader(string dir, long segment, bool isLast, string name, ILogger logger)
    {
        using var file = new FileStream(SegmentPath(dir, segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        var header = new byte[RecordFormat.SegmentHeader];
        var read = RandomAccess.Read(file.SafeFileHandle, header, 0);
        if (read < header.Length)
        {
            if (!isLast)
                LogSegmentHeaderDamaged(logger, name, segment);
            return;
        }
        if (!header.AsSpan(0, 4).SequenceEqual(RecordFormat.SegmentMagic))
        {
            LogSegmentHeaderDamaged(logger, name, segment);
            return;
        }
        var version = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4));
        if (version != RecordFormat.Version)
            throw new NotSupportedException(
                $"backlog {dir}: segment {segment} has format version {version}; this proxy reads version {RecordFormat.Version}. Replay it with the version that wrote it, or move the folder away.");
    }

    private static FileStream CreateSegment(string dir, long segment, Action<BacklogIoStep, FileStream, ReadOnlyMemory<byte>>? faults)
    {
        var path = SegmentPath(dir, segment);
        // Create, not CreateNew: a file of this number can only be the leftover of a failed roll.
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        try
        {
            var header = RecordFormat.SegmentHeaderBytes();
            faults?.Invoke(BacklogIoStep.SegmentCreate, file, header);
            file.Write(header);
            file.Flush(flushToDisk: true);
            DirectorySync.Fsync(dir);
            return file;
        }
        catch (IOException)
        {
            file.Dispose();
            TryDelete(path);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // A leftover segment is deleted again at the next open or commit; a header-less one is rewritten by the
            // next roll (FileMode.Create) or repaired at open.
        }
    }
}
