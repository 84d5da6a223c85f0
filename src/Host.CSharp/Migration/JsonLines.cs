using System.Buffers;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// The lines of a stream, each one JSON object (InfluxDB's chunked answer: one object per chunk of rows), read into a
/// pooled buffer that grows to the longest line; a line is valid until the next <see cref="FillAsync"/>.
/// </summary>
public sealed class JsonLines(Stream stream) : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
    private int _start;
    private int _end;
    private int _scanned;
    private bool _ended;

    /// <summary>Reads more of the stream, keeping the lines not taken yet; false once it has ended and every line was taken.</summary>
    public async ValueTask<bool> FillAsync(CancellationToken ct)
    {
        if (_ended)
            return _start < _end;
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            (_end, _scanned, _start) = (_end - _start, _scanned - _start, 0);
        }
        if (_end == _buffer.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        var read = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
        _end += read;
        _ended = read == 0;
        return true;
    }

    /// <summary>The next whole line (the rest of the stream once it has ended), without its newline.</summary>
    public bool TryNext(out Range line)
    {
        var newline = _buffer.AsSpan(_scanned, _end - _scanned).IndexOf((byte)'\n');
        if (newline < 0 && !(_ended && _start < _end))
        {
            _scanned = _end;
            line = default;
            return false;
        }
        var stop = newline < 0 ? _end : _scanned + newline;
        line = _start..stop;
        _start = _scanned = Math.Min(stop + 1, _end);
        return true;
    }

    public ReadOnlySpan<byte> this[Range line] => _buffer.AsSpan(line);

    public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
}
