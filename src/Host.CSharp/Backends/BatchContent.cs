using System.IO.Compression;
using System.Net;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// A batch body: the parts' lines in order, as gzip members when a level is given. Parts compressed ahead of time
/// are sent as they are (with a Content-Length); the others are compressed on the way out.
/// </summary>
public sealed class BatchContent : HttpContent
{
    private readonly IReadOnlyList<BatchPart> _parts;
    private readonly CompressionLevel? _level;

    public BatchContent(IReadOnlyList<BatchPart> parts, CompressionLevel? level)
    {
        _parts = parts;
        _level = level;
        Headers.ContentType = new("text/plain") { CharSet = "utf-8" };
        if (level is not null)
            Headers.ContentEncoding.Add("gzip");
    }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken ct)
    {
        foreach (var part in _parts)
        {
            if (_level is not { } level)
                await stream.WriteAsync(part.Lines, ct);
            else if (part.IsCompressed)
                await stream.WriteAsync(part.Gzip, ct);
            else
            {
                await using var gzip = new GZipStream(stream, level, leaveOpen: true);
                await gzip.WriteAsync(part.Lines, ct);
            }
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        var known = _level is null || _parts.All(p => p.IsCompressed);
        length = known ? _parts.Sum(p => (long)(_level is null ? p.Lines : p.Gzip).Length) : 0;
        return known;
    }
}
