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

    public WritePipeline(Cluster cluster, BackendSet backends, ProxyConfig config)
    {
        _cluster = cluster;
        _backends = backends;
        _flushSize = config.FlushSize;
    }

    public async Task<WriteResult> WriteAsync(string db, string rp, Precision precision, long nowNs, ReadOnlyMemory<byte> body)
    {
        var fanOut = WriteFanOut.Split(body.Span, precision, nowNs, db, rp, _cluster, _flushSize);
        var pending = new List<Task<Delivery>>();
        foreach (var (backendId, chunk) in fanOut.Chunks)
        {
            // Submission is not cancelled with the request: once a chunk is queued, it is delivered or backlogged.
            await _backends.Backends[backendId].Writer.SubmitAsync(chunk, CancellationToken.None);
            pending.Add(chunk.Completion);
        }
        var deliveries = await Task.WhenAll(pending);
        if (deliveries.FirstOrDefault(d => d.Kind == DeliveryKind.Failed) is { Kind: DeliveryKind.Failed } failed)
            return new WriteResult.NotPersisted(failed.Reason);
        if (deliveries.FirstOrDefault(d => d.Kind == DeliveryKind.PartialWrite) is { Kind: DeliveryKind.PartialWrite } refused)
            return new WriteResult.RefusedByBackend(refused.Reason);
        if (fanOut.Dropped > 0)
            return new WriteResult.PartiallyParsed(fanOut.ParseErrors, fanOut.Dropped, fanOut.Points > 0);
        return new WriteResult.Accepted();
    }
}
