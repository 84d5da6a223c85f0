using System.Buffers;
using System.IO.Compression;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Write;

/// <summary>Gzip toward the backends: the level <c>write_compression</c> names, and single members in pooled buffers.</summary>
public static class Gzip
{
    /// <summary>The level of <c>write_compression</c>; null when batches go uncompressed.</summary>
    public static CompressionLevel? Level(WriteCompression compression) => compression.Tag switch
    {
        WriteCompression.Tags.NoCompression => null,
        WriteCompression.Tags.Optimal => CompressionLevel.Optimal,
        WriteCompression.Tags.Smallest => CompressionLevel.SmallestSize,
        _ => CompressionLevel.Fastest,
    };

    /// <summary>One gzip member of <paramref name="lines"/> in a buffer rented from the shared pool.</summary>
    public static (byte[] Buffer, int Length) Member(ReadOnlySpan<byte> lines, CompressionLevel level)
    {
        // Line protocol compresses 5–8× at the fast levels; the sink grows if a body compresses worse.
        var sink = new PooledSink(lines.Length / 4 + 64);
        using (var gzip = new GZipStream(sink, level, leaveOpen: true))
            gzip.Write(lines);
        return (sink.Buffer, sink.Written);
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

    /// <summary>A write-only stream into a pooled buffer that the caller takes over.</summary>
    private sealed class PooledSink(int capacity) : Stream
    {
        public byte[] Buffer { get; private set; } = ArrayPool<byte>.Shared.Rent(capacity);
        public int Written => _length;
        private int _length;

        public override void Write(ReadOnlySpan<byte> bytes)
        {
            if (_length + bytes.Length > Buffer.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(Buffer.Length * 2, _length + bytes.Length));
                Buffer.AsSpan(0, _length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = bigger;
            }
            bytes.CopyTo(Buffer.AsSpan(_length));
            _length += bytes.Length;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
