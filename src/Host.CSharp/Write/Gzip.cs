using System.IO.Compression;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Write;

/// <summary>Gzip toward the backends: the level <c>write_compression</c> names, and single members in pooled buffers.</summary>
public static class Gzip
{
    /// <summary>The level of <c>write_compression</c> as applied (<see cref="ProxyConfigModule.compression"/>); null when batches go uncompressed.</summary>
    public static CompressionLevel? Level(WriteCompression compression) => compression.Tag switch
    {
        WriteCompression.Tags.NoCompression => null,
        WriteCompression.Tags.Auto => throw new ArgumentException("write_compression auto is resolved by ProxyConfigModule.compression first"),
        WriteCompression.Tags.Optimal => CompressionLevel.Optimal,
        WriteCompression.Tags.Smallest => CompressionLevel.SmallestSize,
        _ => CompressionLevel.Fastest,
    };

    /// <summary>One gzip member of <paramref name="lines"/>, in a buffer rented from the shared pool.</summary>
    public static PooledBuffer Member(ReadOnlySpan<byte> lines, CompressionLevel level)
    {
        // Line protocol compresses 5–8× at the fast levels; the buffer grows if a body compresses worse.
        var member = new PooledBuffer(lines.Length / 4 + 64);
        using (var gzip = new GZipStream(new BufferStream(member), level))
            gzip.Write(lines);
        return member;
    }

    /// <summary>The lines of a gzip stream of one or more members.</summary>
    public static byte[] Inflate(ReadOnlySpan<byte> gzip)
    {
        using var input = new MemoryStream(gzip.ToArray());
        using var lines = new MemoryStream(gzip.Length * 6);
        using (var inflating = new GZipStream(input, CompressionMode.Decompress))
            inflating.CopyTo(lines);
        return lines.ToArray();
    }

    /// <summary>A write-only stream into a pooled buffer.</summary>
    private sealed class BufferStream(PooledBuffer buffer) : Stream
    {
        public override void Write(ReadOnlySpan<byte> bytes) => buffer.Write(bytes);
        public override void Write(byte[] bytes, int offset, int count) => Write(bytes.AsSpan(offset, count));
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => buffer.Length;
        public override long Position { get => buffer.Length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] bytes, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
