namespace InfluxProxy.Host.Migration;

/// <summary>
/// The lines of a stream, each one JSON object (InfluxDB's chunked answer: one object per chunk of rows), read into a
/// buffer that grows to the longest line; a line is valid until the next <see cref="FillAsync"/>.
/// </summary>
public sealed class JsonLines(Stream stream) : IDisposable
{
    private readonly StreamBuffer _read = new(stream);

    /// <summary>How many of the unread bytes are known to hold no newline.</summary>
    private int _scanned;

    /// <summary>Reads more of the stream, keeping the lines not taken yet; false once it has ended and every line was taken.</summary>
    public async ValueTask<bool> FillAsync(CancellationToken ct) => await _read.FillAsync(ct) || !_read.Unread.IsEmpty;

    /// <summary>The next whole line (the rest of the stream once it has ended), without its newline.</summary>
    public bool TryNext(out ReadOnlyMemory<byte> line)
    {
        var unread = _read.Unread;
        var newline = unread.Span[_scanned..].IndexOf((byte)'\n');
        if (newline < 0 && !(_read.Ended && !unread.IsEmpty))
        {
            _scanned = unread.Length;
            line = default;
            return false;
        }
        var stop = newline < 0 ? unread.Length : _scanned + newline;
        line = unread[..stop];
        _read.Take(Math.Min(stop + 1, unread.Length));
        _scanned = 0;
        return true;
    }

    public void Dispose() => _read.Dispose();
}
