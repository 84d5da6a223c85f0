using System.Buffers.Binary;

namespace InfluxProxy.Host.Backlog;

/// <summary>Opening: segment headers, the torn tail, where replay starts; and the segment files themselves.</summary>
public sealed partial class FileBacklog
{
    /// <summary>
    /// Where replay starts, and whether the commit had to be corrected: no commit means "everything there is"; a
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
    private static (long Cut, long Length) CutTornTail(string path, long segment)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        var length = file.Length;
        if (length < RecordFormat.SegmentHeader)
        {
            // A crash while the segment was being started: its header is incomplete.
            file.SetLength(0);
            file.Write(RecordFormat.SegmentHeaderBytes());
            file.Flush(flushToDisk: true);
            return (length, RecordFormat.SegmentHeader);
        }
        long goodEnd = RecordFormat.SegmentHeader;
        while (RecordFormat.ReadValid(file.SafeFileHandle, segment, goodEnd, length).Record is { } record)
            goodEnd = record.Next.Offset;
        if (goodEnd < length)
        {
            file.SetLength(goodEnd);
            file.Flush(flushToDisk: true);
        }
        return (length - goodEnd, goodEnd);
    }

    /// <summary>Refuses a segment of a newer format; logs one whose header is damaged (its records are still checked one by one).</summary>
    private static void CheckHeader(string dir, long segment, bool isLast, string backend, ILogger logger)
    {
        using var file = new FileStream(SegmentPath(dir, segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
        var header = new byte[RecordFormat.SegmentHeader];
        var read = RandomAccess.Read(file.SafeFileHandle, header, 0);
        if (read < header.Length)
        {
            if (!isLast)
                LogSegmentHeaderDamaged(logger, backend, segment);
            return;
        }
        if (!header.AsSpan(0, 4).SequenceEqual(RecordFormat.SegmentMagic))
        {
            LogSegmentHeaderDamaged(logger, backend, segment);
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

    private static string SegmentPath(string dir, long segment) => Path.Combine(dir, $"{segment:D20}.seg");

    private static List<long> ListSegments(string dir) =>
        Directory.EnumerateFiles(dir, "*.seg")
            .Select(p => long.TryParse(Path.GetFileNameWithoutExtension(p), out var id) ? id : -1)
            .Where(id => id > 0)
            .Order()
            .ToList();
}
