using System.Buffers;
using System.Buffers.Text;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// The lines of one /write request bound for one backend and one (db, rp), in a pooled buffer, with the promise
/// the request awaits. The request fills it; then the backend's writer owns it until it completes it.
/// </summary>
public sealed class LineChunk
{
    private byte[] _buffer;
    private int _length;
    private readonly TaskCompletionSource<Delivery> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LineChunk(string db, string rp, int capacityHint)
    {
        Db = db;
        Rp = rp;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(capacityHint, 256));
    }

    public string Db { get; }
    public string Rp { get; }
    public int Lines { get; private set; }
    public ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(0, _length);
    public Task<Delivery> Completion => _done.Task;

    /// <summary>Appends <c>point + ' ' + timestamp + '\n'</c>: every line leaves with an explicit ns timestamp.</summary>
    public void Append(ReadOnlySpan<byte> pointWithoutTimestamp, long timestampNs)
    {
        Ensure(pointWithoutTimestamp.Length + 22);
        pointWithoutTimestamp.CopyTo(_buffer.AsSpan(_length));
        _length += pointWithoutTimestamp.Length;
        _buffer[_length++] = (byte)' ';
        Utf8Formatter.TryFormat(timestampNs, _buffer.AsSpan(_length), out var written);
        _length += written;
        _buffer[_length++] = (byte)'\n';
        Lines++;
    }

    public void Complete(Delivery delivery)
    {
        if (_done.TrySetResult(delivery))
            Release();
    }

    private void Release()
    {
        var buffer = _buffer;
        _buffer = [];
        _length = 0;
        ArrayPool<byte>.Shared.Return(buffer);
    }

    private void Ensure(int extra)
    {
        if (_length + extra <= _buffer.Length)
            return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + extra));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }
}
