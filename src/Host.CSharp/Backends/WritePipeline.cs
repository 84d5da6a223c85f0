using System.IO.Compression;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>What the client is told about one /write, decided from the parse and every owner's delivery.</summary>
public abstract record WriteResult
{
    /// <summary>Every point is stored by its owner in every circle, or durably in that owner's backlog.</summary>
    public sealed record Accepted : WriteResult;
    /// <summary>Some lines did not parse; the others were accepted as above.</summary>
    public sealed record PartiallyParsed(string Errors, int Dropped, bool AnyAccepted) : WriteResult;
    /// <summary>A backend refused some points (e.g. a field type conflict): its own error text.</summary>
    public sealed record RefusedByBackend(string Error) : WriteResult;
    /// <summary>Some points are neither delivered nor persisted; the client must retry.</summary>
    public sealed record NotPersisted(string Error) : WriteResult;
}

/// <summary>Splits a /write body by owner, hands the chunks to the backends' writers, and awaits their delivery.</summary>
public sealed class WritePipeline
{
    private readonly Cluster _cluster;
    private readonly BackendSet _backends;
    private readonly int _flushSize;
    private readonly CompressionLevel? _gzipLevel;

    public WritePipeline(Cluster cluster, BackendSet backends, ProxyConfig config)
    {
        _cluster = cluster;
        _backends = backends;
        _flushSize = config.FlushSize;
        _gzipLevel = Gzip.Level(config.WriteCompression);
    }

    public async Task<WriteResult> WriteAsync(string db, string rp, Precision precision, long nowNs, ReadOnlyMemory<byte> body)
    {
        var fanOut = WriteFanOut.Split(body.Span, precision, nowNs, db, rp, _cluster, _flushSize);
        fanOut.Tally.Expect(fanOut.Deliveries);
        foreach (var (owners, chunk) in fanOut.Chunks)
        {
            if (_gzipLevel is { } level)
                chunk.Compress(level);
            // Submission is not cancelled with the request: once a chunk is queued, it is delivered or backlogged.
            foreach (var owner in owners)
                await _backends[owner].Writer.SubmitAsync(chunk, CancellationToken.None);
        }
        var worst = await fanOut.Tally.Outcome;
        if (worst.Kind == DeliveryKind.Failed)
            return new WriteResult.NotPersisted(worst.Reason);
        if (worst.Kind == DeliveryKind.PartialWrite)
            return new WriteResult.RefusedByBackend(worst.Reason);
        if (fanOut.Dropped > 0)
            return new WriteResult.PartiallyParsed(fanOut.ParseErrors, fanOut.Dropped, fanOut.Points > 0);
        return new WriteResult.Accepted();
    }
}
