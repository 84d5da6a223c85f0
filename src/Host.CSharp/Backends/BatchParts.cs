using InfluxProxy.Host.Backlog;
using InfluxProxy.Host.Write;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// The parts of one batch for one send, with the buffers rented to read its journaled chunks back into: given back
/// when the send (or the backlogging of the batch) is done. Read into arrays of their own, chunks of uncompressed
/// lines (tens to hundreds of KB) landed on the large object heap, which only full collections clean: under load
/// the proxy ran one every half second and its memory swung by 30 MB (measured). Giving them back once the send
/// returns is safe because batches go over HTTP/1.1, where the request body has been sent when the answer is read.
/// </summary>
public sealed class BatchParts : IDisposable
{
    private readonly List<byte[]> _rented = [];
    private readonly List<BatchPart> _parts = [];

    private BatchParts()
    {
    }

    public IReadOnlyList<BatchPart> Parts => _parts;

    /// <summary>The parts of <paramref name="batch"/>'s chunks, in order; nothing stays rented when reading one fails.</summary>
    public static async Task<BatchParts> ReadAsync(IReadOnlyList<LineChunk> batch)
    {
        var parts = new BatchParts();
        try
        {
            foreach (var chunk in batch)
                parts._parts.Add(await chunk.PartAsync(parts));
            return parts;
        }
        catch
        {
            parts.Dispose();
            throw;
        }
    }

    /// <summary>A buffer of exactly <paramref name="length"/> bytes, valid until this is disposed.</summary>
    public Memory<byte> Rent(int length)
    {
        var array = RentedBytes.Rent(length);
        _rented.Add(array);
        return array.AsMemory(0, length);
    }

    public void Dispose()
    {
        foreach (var array in _rented)
            RentedBytes.Return(array);
        _rented.Clear();
    }
}
