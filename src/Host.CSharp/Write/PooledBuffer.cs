using System.Buffers;

namespace InfluxProxy.Host.Write;

/// <summary>
/// Bytes written into a buffer rented from the shared pool, which grows (to twice its size, or more when asked) as
/// they come: the one place a pooled buffer grows. <see cref="Dispose"/> gives the buffer back.
/// </summary>
public sealed class PooledBuffer(int capacity) : IBufferWriter<byte>, IDisposable
{
    private byte[] _array = ArrayPool<byte>.Shared.Rent(Math.Max(capacity, 1));

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Written => _array.AsMemory(0, Length);

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(Length);
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(Length);
    }

    public void Advance(int count) => Length += count;

    public void Write(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        Length += bytes.Length;
    }

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, []);
        if (array.Length > 0)
            ArrayPool<byte>.Shared.Return(array);
        Length = 0;
    }

    /// <summary>Room for at least <paramref name="sizeHint"/> more bytes (one, when 0).</summary>
    private void Ensure(int sizeHint)
    {
        var needed = Length + Math.Max(sizeHint, 1);
        if (needed <= _array.Length)
            return;
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_array.Length * 2, needed));
        _array.AsSpan(0, Length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_array);
        _array = bigger;
    }
}
