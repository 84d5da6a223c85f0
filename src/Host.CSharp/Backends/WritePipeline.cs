using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>What the client is told about one /write, decided from the parse and every owner's delivery.</summary>
public abstract record WriteResult
{
    /// <summary>
    /// Every point is in the write journal, or (<c>write_ack: stored</c>, or when the journal cannot answer early)
    /// stored by its owner in every circle or durably in that owner's backlog.
    /// </summary>
    public sealed record Accepted : WriteResult;
    /// <summary>Some lines did not parse; the others were accepted as above.</summary>
    public sealed record PartiallyParsed(string Errors, int Dropped, bool AnyAccepted) : WriteResult;
    /// <summary>
    /// InfluxDB's storage refused some points: a backend did (e.g. a field type conflict; its own error text), or
    /// the proxy did up front, by the rules that need no backend, in InfluxDB's words; the others were accepted.
    /// </summary>
    public sealed record StorageRefused(string Error) : WriteResult;
    /// <summary>Some points are neither delivered nor persisted; the client must retry.</summary>
    public sealed record NotPersisted(string Error) : WriteResult;
}

/// <summary>
/// Splits a /write body by owner and hands the chunks to the backends' writers. With <c>write_ack: journaled</c> a
/// request is answered once the write journal has it, while its owners take writes directly (its chunks are then
/// read back from the journal, so waiting costs no memory); otherwise it is answered once every owner has stored or
/// backlogged its points. Replays the journal left by the previous run at start.
/// </summary>
public sealed partial class WritePipeline : IHostedService
{
    private readonly OwnerCache _owners;
    private readonly int _backendsPerCircle;
    private readonly BackendSet _backends;
    private readonly ProxyConfig _config;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ChunkCompressor? _compressor;
    private readonly CancellationTokenSource _stopping = new();
    private Task _replay = Task.CompletedTask;

    public WritePipeline(Cluster cluster, BackendSet backends, ProxyConfig config, TimeProvider time, ILogger<WritePipeline> logger)
    {
        _owners = new OwnerCache(cluster);
        _backendsPerCircle = Math.Max(1, cluster.Backends.Count / cluster.Circles.Count);
        _backends = backends;
        _config = config;
        _time = time;
        _logger = logger;
        _compressor = Gzip.Level(config.WriteCompression) is { } level ? new ChunkCompressor(level) : null;
    }

    public Task StartAsync(CancellationToken ct)
    {
        if (_backends.Journal is { } journal)
            _replay = Task.Run(() => journal.ReplayAsync(RedeliverAsync, _config.RewriteInterval, _time, _stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken ct)
    {
        await _stopping.CancelAsync();
        await _replay;
    }

    /// <summary>
    /// Writes one request. While the journal of the previous run is being replayed, new points wait behind it (so they
    /// never land before older ones), at most write_timeout; then the client is asked to retry. Points every backend
    /// would refuse as beyond their retention policy are refused here, as InfluxDB refuses them.
    /// </summary>
    public async Task<WriteResult> WriteAsync(string db, string rp, Precision precision, long nowNs, ReadOnlyMemory<byte> body)
    {
        var journal = _backends.Journal;
        if (journal is not null && !journal.Replayed.IsCompleted
            && await Task.WhenAny(journal.Replayed, Task.Delay(_config.WriteTimeout, _time)) != journal.Replayed)
            return new WriteResult.NotPersisted("the write journal of the previous run is still being delivered; retry");
        return await DeliverAsync(db, rp, await SplitWithinRetentionAsync(db, rp, precision, nowNs, body), journal);
    }

    /// <summary>Only a request with points older than any policy can refuse asks the backends' policies.</summary>
    private async Task<WriteFanOut> SplitWithinRetentionAsync(string db, string rp, Precision precision, long nowNs, ReadOnlyMemory<byte> body)
    {
        var fanOut = Split(db, rp, precision, nowNs, body, long.MinValue);
        if (fanOut.Oldest >= nowNs - Retention.shortestReach
            || await _backends.Databases.RetentionFloors.FloorAsync(db, rp, nowNs, fanOut.Oldest) is var floor && fanOut.Oldest >= floor)
            return fanOut;
        fanOut.Discard();
        return Split(db, rp, precision, nowNs, body, floor);
    }

    private WriteFanOut Split(string db, string rp, Precision precision, long nowNs, ReadOnlyMemory<byte> body, long retentionFloorNs) =>
        WriteFanOut.Split(body.Span, precision, nowNs, db, rp, _owners.For(db), _backendsPerCircle, _config.FlushSize, retentionFloorNs);

    private async Task<WriteResult> DeliverAsync(string db, string rp, WriteFanOut fanOut, WriteJournal? journal)
    {
        var chunks = fanOut.Chunks.ToList();
        if (_compressor is not null)
            await _compressor.CompressAsync(chunks.ConvertAll(c => c.Chunk));
        var journaled = journal is not null && MayAnswerEarly(chunks) && await JournalAsync(journal, db, rp, fanOut, chunks);
        fanOut.Tally.Expect(fanOut.Deliveries);
        // Submission is not cancelled with the request: once a chunk is queued, it is delivered or backlogged.
        foreach (var (owners, chunk) in chunks)
            foreach (var owner in owners)
                await _backends[owner].Writer.SubmitAsync(chunk, CancellationToken.None);
        if (journaled)
            return ParseResult(fanOut);
        var worst = await fanOut.Tally.Outcome;
        if (worst.Kind == DeliveryKind.Failed)
            return new WriteResult.NotPersisted(worst.Reason);
        if (worst.Kind == DeliveryKind.PartialWrite)
            return new WriteResult.StorageRefused(worst.Reason);
        return ParseResult(fanOut);
    }

    /// <summary>InfluxDB names a storage refusal rather than the lines that did not parse.</summary>
    private static WriteResult ParseResult(WriteFanOut fanOut) =>
        fanOut.StorageRefusal is { } refusal ? new WriteResult.StorageRefused(refusal)
        : fanOut.Dropped > 0 ? new WriteResult.PartiallyParsed(fanOut.ParseErrors, fanOut.Dropped, fanOut.Points > 0)
        : new WriteResult.Accepted();

    /// <summary>
    /// Early answers need every owner sending directly: a backlog that could refuse the points (full, or a disk error)
    /// must still be able to turn the answer into a 503.
    /// </summary>
    private bool MayAnswerEarly(List<(IReadOnlyList<BackendInfo> Owners, LineChunk Chunk)> chunks) =>
        chunks.Count > 0 && chunks.All(c => c.Owners.All(o => _backends[o].Writer.SendsDirectly));

    /// <summary>
    /// Writes the request's record (its chunks' bytes one after the other) and, once it is durable, moves the chunks
    /// there; the record is settled once every owner has answered for its chunks. False when the disk refused (the
    /// chunks then keep their bytes in memory).
    /// </summary>
    private async Task<bool> JournalAsync(WriteJournal journal, string db, string rp, WriteFanOut fanOut, List<(IReadOnlyList<BackendInfo> Owners, LineChunk Chunk)> chunks)
    {
        var parts = new List<ReadOnlyMemory<byte>>(chunks.Count);
        foreach (var (_, chunk) in chunks)
        {
            var part = await chunk.PartAsync();
            parts.Add(part.IsCompressed ? part.Gzip : part.Lines);
        }
        var ticket = journal.Append(db, rp, _compressor is null ? WriteJournal.Plain : WriteJournal.Gzipped, parts);
        // Runs after submission, so after the record was written or refused.
        fanOut.Tally.WhenDone(worst =>
        {
            if (ticket.Written.Result is null)
                return; // not journaled: the request waits for this outcome itself
            if (worst.Kind == DeliveryKind.Failed)
                _ = RedeliverFromJournalAsync(journal, ticket, db, rp, worst.Reason);
            else
                journal.Settle(ticket);
        });
        if (await ticket.Written is not { } at)
            return false;
        var offset = at.Offset + 1; // after the encoding byte
        for (var i = 0; i < chunks.Count; i++)
        {
            chunks[i].Chunk.MoveTo(journal, at with { Offset = offset });
            offset += parts[i].Length;
        }
        return true;
    }

    /// <summary>
    /// Points answered early that could be neither delivered nor backlogged: delivered again from their record, every
    /// rewrite_interval, until they are (the records after it wait to be committed meanwhile).
    /// </summary>
    private async Task RedeliverFromJournalAsync(WriteJournal journal, WriteJournal.Ticket ticket, string db, string rp, string reason)
    {
        LogRedeliveringFromJournal(db, reason);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_config.RewriteInterval, _time, _stopping.Token);
                if (await journal.LinesOfAsync(ticket) is not { } lines || await RedeliverAsync(db, rp, lines))
                {
                    journal.Settle(ticket);
                    return;
                }
            }
            catch (OperationCanceledException)
            {
                return; // stopping: the record stays in the journal and is replayed at the next start
            }
            catch (IOException e)
            {
                LogRedeliveryFailed(db, e.Message);
            }
        }
    }

    /// <summary>A record of the previous run, delivered as a request answered only once stored or backlogged.</summary>
    private async Task<bool> RedeliverAsync(string db, string rp, ReadOnlyMemory<byte> lines)
    {
        // Every journaled line carries its ns timestamp: no clock is needed.
        var result = await DeliverAsync(db, rp, Split(db, rp, Precision.Nanosecond, nowNs: 0, lines, long.MinValue), journal: null);
        if (result is WriteResult.NotPersisted failed)
            LogRedeliveryFailed(db, failed.Error);
        else if (result is WriteResult.PartiallyParsed unparsed)
            // Journaled by an earlier version that took lines this one refuses (one a backend could die on).
            LogRedeliveryRefused(db, unparsed.Dropped, unparsed.Errors);
        return result is not WriteResult.NotPersisted;
    }

    [LoggerMessage(EventId = 510, Level = LogLevel.Error, Message = "points for db {Db} answered from the journal could be neither delivered nor backlogged ({Reason}); delivering them again from the journal")]
    private partial void LogRedeliveringFromJournal(string db, string reason);

    [LoggerMessage(EventId = 511, Level = LogLevel.Warning, Message = "journal record for db {Db} not delivered yet: {Reason}")]
    private partial void LogRedeliveryFailed(string db, string reason);

    [LoggerMessage(EventId = 512, Level = LogLevel.Error, Message = "journal record for db {Db}: {Dropped} lines no backend can take are not delivered: {Errors}")]
    private partial void LogRedeliveryRefused(string db, int dropped, string errors);
}
