using System.IO.Compression;
using System.Net;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>A batch body: the parts' bytes in order, gzip-compressed on the way out unless compression is off.</summary>
public sealed class BatchContent : HttpContent
{
    private readonly IReadOnlyList<ReadOnlyMemory<byte>> _parts;
    private readonly CompressionLevel? _level;

    public BatchContent(IReadOnlyList<ReadOnlyMemory<byte>> parts, WriteCompression compression)
    {
        _parts = parts;
        _level = compression.Tag switch
        {
            WriteCompression.Tags.NoCompression => null,
            WriteCompression.Tags.Optimal => CompressionLevel.Optimal,
            WriteCompression.Tags.Smallest => CompressionLevel.SmallestSize,
            _ => CompressionLevel.Fastest,
        };
        Headers.ContentType = new("text/plain") { CharSet = "utf-8" };
        if (_level is not null)
            Headers.ContentEncoding.Add("gzip");
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken ct)
    {
        if (_level is not { } level)
        {
            foreach (var part in _parts)
                await stream.WriteAsync(part, ct);
            return;
        }
        await using var gzip = new GZipStream(stream, level, leaveOpen: true);
        foreach (var part in _parts)
            await gzip.WriteAsync(part, ct);
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = _level is null ? _parts.Sum(p => (long)p.Length) : 0;
        return _level is null;
    }
}
