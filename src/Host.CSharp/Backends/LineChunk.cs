using System.Buffers;
using System.Buffers.Text;
using System.IO.Compression;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// The lines of one /write request bound for one (db, rp) and one set of owners, one backend per circle, in a pooled
/// buffer. The request fills it and may compress it once; then it is shared, read-only, by the owners' writers, and
/// each of them completes it exactly once with what became of the lines at its backend. The last one returns the
/// buffers.
/// </summary>
public sealed class LineChunk
{
    private readonly DeliveryTally _tally;
    private byte[] _lines;
    private int _length;
    private byte[] _gzip = [];
    private int _gzipLength;
    private int _holders;

    public LineChunk(string db, string rp, int owners, DeliveryTally tally, int capacityHint)
    {
        Db = db;
        Rp = rp;
        _holders = owners;
        _tally = tally;
        _lines = ArrayPool<byte>.Shared.Rent(Math.Max(capacityHint, 256));
    }

    public string Db { get; }
    public string Rp { get; }
    public int Lines { get; private set; }
    public ReadOnlyMemory<byte> Bytes => _lines.AsMemory(0, _length);
    public BatchPart Part => new(Bytes, _gzip.AsMemory(0, _gzipLength));

    /// <summary>Appends <c>point + ' ' + timestamp + '\n'</c>: every line leaves with an explicit ns timestamp.</summary>
    public void Append(ReadOnlySpan<byte> pointWithoutTimestamp, long timestampNs)
    {
        Ensure(pointWithoutTimestamp.Length + 22);
        pointWithoutTimestamp.CopyTo(_lines.AsSpan(_length));
        _length += pointWithoutTimestamp.Length;
        _lines[_length++] = (byte)' ';
        Utf8Formatter.TryFormat(timestampNs, _lines.AsSpan(_length), out var written);
        _length += written;
        _lines[_length++] = (byte)'\n';
        Lines++;
    }

    /// <summary>Appends a line that already ends with its ns timestamp, as it came, plus <c>'\n'</c>.</summary>
    public void AppendVerbatim(ReadOnlySpan<byte> line)
    {
        Ensure(line.Length + 1);
        line.CopyTo(_lines.AsSpan(_length));
        _length += line.Length;
        _lines[_length++] = (byte)'\n';
        Lines++;
    }

    /// <summary>Compresses the lines once, for every owner; before the chunk is shared.</summary>
    public void Compress(CompressionLevel level) => (_gzip, _gzipLength) = Gzip.Member(Bytes.Span, level);

    /// <summary>One owner is done with the chunk; it must not touch it afterwards.</summary>
    public void Complete(Delivery delivery)
    {
        _tally.Report(delivery);
        if (Interlocked.Decrement(ref _holders) == 0)
            Release();
    }

    private void Release()
    {
        ArrayPool<byte>.Shared.Return(_lines);
        if (_gzip.Length > 0)
            ArrayPool<byte>.Shared.Return(_gzip);
        (_lines, _length, _gzip, _gzipLength) = ([], 0, [], 0);
    }

    private void Ensure(int extra)
    {
        if (_length + extra <= _lines.Length)
            return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_lines.Length * 2, _length + extra));
        _lines.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_lines);
        _lines = bigger;
    }
}
