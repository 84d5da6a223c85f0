using Microsoft.Win32.SafeHandles;

namespace InfluxProxy.Host.Backlog;

/// <summary>What a walk over the log meets, in log order.</summary>
internal abstract record Walked
{
    /// <summary>A valid record.</summary>
    public sealed record Record(BacklogRecord Value) : Walked;

    /// <summary>Bytes that hold no valid record, stepped over: <paramref name="Spots"/> damaged places from <paramref name="At"/>.</summary>
    public sealed record Damage(BacklogPosition At, int Spots, long Bytes) : Walked;

    /// <summary>A segment file gone from the folder (deleted by hand): its records are lost.</summary>
    public sealed record SegmentGone(long Segment) : Walked;
}

/// <summary>
/// The one walk over a log's segments: the valid records between two positions, across segment files, stepping over
/// damage (each damaged span met once, with where it began and its size) and over missing segment files. Opening
/// uses it to cut a torn tail and count what waits; readers use it to find their next record. It keeps one segment
/// open at a time; every read is bounded by the limit the caller trusts (the durable end, or a file's length).
/// </summary>
internal sealed class SegmentWalker(string dir) : IDisposable
{
    private FileStream? _file;
    private long _segment = -1;

    public IEnumerable<Walked> Walk(BacklogPosition from, BacklogPosition until)
    {
        var position = from;
        while (position.CompareTo(until) < 0)
        {
            if (Open(position.Segment) is not { } file)
            {
                yield return new Walked.SegmentGone(position.Segment);
                position = NextSegmentStart(position.Segment, until);
                continue;
            }
            var limit = position.Segment == until.Segment ? until.Offset : RandomAccess.GetLength(file);
            if (position.Offset >= limit)
            {
                position = NextSegmentStart(position.Segment, until);
                continue;
            }
            var (record, skipped, firstBad) = RecordFormat.ReadValid(file, position.Segment, position.Offset, limit);
            if (skipped > 0)
                yield return new Walked.Damage(new BacklogPosition(position.Segment, firstBad), skipped, (record?.Position.Offset ?? limit) - firstBad);
            if (record is null)
            {
                position = new BacklogPosition(position.Segment, limit);
                continue;
            }
            yield return new Walked.Record(record);
            position = record.Next;
        }
    }

    /// <summary>Closes the segment it keeps open when that one is before <paramref name="segment"/>: it may be deleted.</summary>
    public void CloseBefore(long segment)
    {
        if (_segment < segment)
            Dispose();
    }

    public void Dispose()
    {
        _file?.Dispose();
        (_file, _segment) = (null, -1);
    }

    /// <summary>A read handle on the segment, kept while the walk is in it; null when the file is gone.</summary>
    private SafeFileHandle? Open(long segment)
    {
        if (_segment == segment && _file is not null)
            return _file.SafeFileHandle;
        Dispose();
        try
        {
            _file = new FileStream(FileBacklog.SegmentPath(dir, segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        _segment = segment;
        return _file.SafeFileHandle;
    }

    /// <summary>The start of the first segment after <paramref name="segment"/>, or <paramref name="until"/> when none is before it.</summary>
    private BacklogPosition NextSegmentStart(long segment, BacklogPosition until)
    {
        // A segment after the limit may be one the writer just started: nothing in it is published yet.
        var next = FileBacklog.ListSegments(dir).FirstOrDefault(s => s > segment);
        return next == 0 || next > until.Segment ? until : new BacklogPosition(next, RecordFormat.SegmentHeader);
    }
}
