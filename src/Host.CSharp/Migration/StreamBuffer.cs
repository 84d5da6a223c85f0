using System.Buffers;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// A stream read into one pooled buffer that grows to hold what is not taken yet: a chunked answer's bytes until its
/// reader has a whole chunk. <see cref="Unread"/> is valid until the next <see cref="FillAsync"/>.
/// </summary>
public sealed class StreamBuffer(Stream stream) : IDisposable
{
    /// <summary>Each read has at least this much room, however little is taken between reads.</summary>
    private const int MinimumRead = 1 << 14;

    /// <summary>What may wait untaken: a chunk of InfluxDB's answer holds <c>batch</c> rows, a few MB.</summary>
    public const int MaxUnread = 1 << 30;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
    private int _start;
    private int _end;

    /// <summary>True once a read found the stream's end.</summary>
    public bool Ended { get; private set; }

    /// <summary>What was read and not taken yet.</summary>
    public ReadOnlyMemory<byte> Unread => _buffer.AsMemory(_start, _end - _start);

    /// <summary>
    /// Reads more of the stream after what is not taken yet; false once it has ended. Throws
    /// <see cref="InvalidDataException"/> when about <see cref="MaxUnread"/> bytes wait untaken.
    /// </summary>
    public async ValueTask<bool> FillAsync(CancellationToken ct)
    {
        if (Ended)
            return false;
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            (_end, _start) = (_end - _start, 0);
        }
        if (_buffer.Length - _end < MinimumRead)
        {
            if (_buffer.Length >= MaxUnread)
                throw new InvalidDataException($"a chunk of more than {MaxUnread} bytes: ask for fewer rows per chunk (batch)");
            var larger = ArrayPool<byte>.Shared.Rent(_buffer.Length * 2);
            _buffer.AsSpan(0, _end).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        var read = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
        _end += read;
        Ended = read == 0;
        return !Ended;
    }

    /// <summary>Takes the first <paramref name="count"/> unread bytes: they are not kept past the next read.</summary>
    public void Take(int count) => _start += count;

    public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
}
