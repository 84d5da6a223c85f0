using System.Buffers.Binary;
using System.IO.Hashing;

namespace InfluxProxy.Host.Http;

/// <summary>
/// Whether a gzip body arrived whole. .NET's <see cref="System.IO.Compression.GZipStream"/> ends quietly where the
/// compressed bytes stop, even in the middle of a member, handing over a body cut short (its last line cut in the
/// middle). A whole body ends with its last member's trailer, CRC-32 and size of what that member holds, which are the
/// last bytes of what was decompressed: a cut body fails this check but with a chance of one in 2^32.
/// </summary>
public sealed class GzipTrailer(Stream compressed, long maxBytes) : ReadOnlyStream
{
    private const int Length8 = 8;
    private readonly byte[] _last = new byte[Length8];
    private long _seen;

    /// <summary>Whether the compressed bytes read through this stream end with the trailer of <paramref name="decompressed"/>'s last member.</summary>
    public bool Ends(ReadOnlySpan<byte> decompressed)
    {
        if (_seen < Length8)
            return false;
        var trailer = Ordered();
        var size = BinaryPrimitives.ReadUInt32LittleEndian(trailer.AsSpan(4));
        return size <= decompressed.Length
            && Crc32.HashToUInt32(decompressed[^(int)size..]) == BinaryPrimitives.ReadUInt32LittleEndian(trailer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        var read = await compressed.ReadAsync(buffer, ct);
        Keep(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = compressed.Read(buffer, offset, count);
        Keep(buffer.AsSpan(offset, read));
        return read;
    }

    /// <summary>
    /// Keeps the last eight bytes seen, in a ring, each at its place in the body modulo 8. Compressed bytes count
    /// against the limit too: empty members would otherwise stream on for ever.
    /// </summary>
    private void Keep(ReadOnlySpan<byte> bytes)
    {
        _seen += Math.Max(0, bytes.Length - Length8);
        foreach (var b in bytes.Length > Length8 ? bytes[^Length8..] : bytes)
            _last[_seen++ % Length8] = b;
        if (_seen > maxBytes)
            throw new BadHttpRequestException("the compressed body exceeds max_body_size", StatusCodes.Status413PayloadTooLarge);
    }

    private byte[] Ordered()
    {
        var ordered = new byte[Length8];
        for (var i = 0; i < Length8; i++)
            ordered[i] = _last[(int)((_seen + i) % Length8)];
        return ordered;
    }
}
