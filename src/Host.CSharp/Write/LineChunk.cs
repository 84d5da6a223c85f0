using System.Buffers.Text;
using System.IO.Compression;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Backlog;

namespace InfluxProxy.Host.Write;

/// <summary>
/// The lines of one /write request bound for one (db, rp) and one set of owners, one backend per circle, in a pooled
/// buffer. The request fills it and may compress it once (keeping only the gzip member, a fifth of the size), and
/// once the write journal has them, lets them go (its writers read them back from there, so the requests answered
/// early cost no memory while they wait); then it is shared, read-only, by the owners' writers, and each of them
/// completes it exactly once with what became of the lines at its backend. The last one returns the buffer.
/// </summary>
public sealed class LineChunk
{
    private readonly DeliveryTally _tally;
    private PooledBuffer _lines;
    private PooledBuffer? _gzip;
    private int _holders;
    private Journaled? _journaled;

    /// <summary>Where the journal holds the chunk's bytes: the gzip member, or the lines when uncompressed.</summary>
    private sealed record Journaled(WriteJournal Journal, BacklogPosition At, int Length, bool Gzipped);

    public LineChunk(string db, string rp, int owners, DeliveryTally tally, int capacityHint)
    {
        Db = db;
        Rp = rp;
        _holders = owners;
        _tally = tally;
        _lines = new PooledBuffer(Math.Max(capacityHint, 256));
    }

    /// <summary>Where each owner reports what became of the chunk.</summary>
    public DeliveryTally Tally => _tally;

    public string Db { get; }
    public string Rp { get; }
    public int Lines { get; private set; }

    /// <summary>The lines or their gzip member as held in memory, before the journal holds them (<see cref="MoveTo"/>).</summary>
    public BatchPart InMemoryPart => new(_lines.Written, _gzip?.Written ?? ReadOnlyMemory<byte>.Empty);

    /// <summary>
    /// The lines or their gzip member, from memory or read back from the journal into a buffer rented from
    /// <paramref name="parts"/> (valid while it is).
    /// </summary>
    public async ValueTask<BatchPart> PartAsync(BatchParts parts)
    {
        if (_journaled is not { } journaled)
            return InMemoryPart;
        var bytes = parts.Rent(journaled.Length);
        await journaled.Journal.ReadAsync(journaled.At, bytes);
        return journaled.Gzipped ? new(ReadOnlyMemory<byte>.Empty, bytes) : BatchPart.Uncompressed(bytes);
    }

    /// <summary>Appends <c>point + ' ' + timestamp + '\n'</c>: every line leaves with an explicit ns timestamp.</summary>
    public void Append(ReadOnlySpan<byte> pointWithoutTimestamp, long timestampNs)
    {
        var room = _lines.GetSpan(pointWithoutTimestamp.Length + 22);
        pointWithoutTimestamp.CopyTo(room);
        var at = pointWithoutTimestamp.Length;
        room[at++] = (byte)' ';
        Utf8Formatter.TryFormat(timestampNs, room[at..], out var written);
        at += written;
        room[at++] = (byte)'\n';
        _lines.Advance(at);
        Lines++;
    }

    /// <summary>Appends a line that already ends with its ns timestamp, as it came, plus <c>'\n'</c>.</summary>
    public void AppendVerbatim(ReadOnlySpan<byte> line)
    {
        var room = _lines.GetSpan(line.Length + 1);
        line.CopyTo(room);
        room[line.Length] = (byte)'\n';
        _lines.Advance(line.Length + 1);
        Lines++;
    }

    /// <summary>Compresses the lines once, for every owner, and lets the lines go; before the chunk is shared.</summary>
    public void Compress(CompressionLevel level)
    {
        _gzip = Gzip.Member(_lines.Written.Span, level);
        _lines.Dispose();
    }

    /// <summary>
    /// The journal holds the bytes <see cref="PartAsync"/> gives (the member, or the lines) at <paramref name="at"/>:
    /// they are read back from there from now on. Before the chunk is shared.
    /// </summary>
    public void MoveTo(WriteJournal journal, BacklogPosition at)
    {
        _journaled = _gzip is { } gzip ? new(journal, at, gzip.Length, Gzipped: true) : new(journal, at, _lines.Length, Gzipped: false);
        Release();
    }

    /// <summary>The owner in <paramref name="circle"/> is done with the chunk; it must not touch it afterwards.</summary>
    public void Complete(Delivery delivery, int circle)
    {
        _tally.Report(delivery, circle);
        if (Interlocked.Decrement(ref _holders) == 0)
            Release();
    }

    /// <summary>Gives the buffer back before the chunk was ever shared or journaled; it must not be used afterwards.</summary>
    public void Discard() => Release();

    private void Release()
    {
        _lines.Dispose();
        _gzip?.Dispose();
    }
}
