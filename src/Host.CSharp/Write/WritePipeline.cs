using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Backlog;
using InfluxProxy.Host.Hosting;
using InfluxProxy.Host.Schema;

namespace InfluxProxy.Host.Write;

/// <summary>
/// The path of one /write: splits the body by owner, compresses each owner set's lines once, journals them
/// (<c>write_ack: journaled</c>) and hands them to the owners' writers; the answer is decided by
/// <see cref="WriteAnswerModule"/>. A request is answered once journaled while its owners take writes directly (its
/// chunks are then read back from the journal, so waiting costs no memory); otherwise once every owner stored or
/// backlogged its points. As background work it replays the journal left by the previous run, and delivers again
/// from the journal what could be neither delivered nor backlogged after an early answer.
/// </summary>
public sealed partial class WritePipeline : IBackgroundWork
{
    private readonly Cluster _cluster;
    private readonly int _backendsPerCircle;
    private readonly BackendRegistry _backends;
    private readonly WriteJournal? _journal;
    private readonly RetentionFloors _retentionFloors;
    private readonly ChunkCompressor? _compressor;
    private readonly ClientWrites _clientWrites;
    private readonly WriteOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _redeliveriesLock = new();
    private readonly HashSet<Task> _redeliveries = []; // guarded by _redeliveriesLock
    private Task _replay = Task.CompletedTask;

    /// <param name="journal">Null with <c>write_ack: stored</c>.</param>
    /// <param name="compressor">Null when batches go uncompressed.</param>
    /// <param name="clientWrites">Told of every request.</param>
    public WritePipeline(Cluster cluster, BackendRegistry backends, WriteJournal? journal, RetentionFloors retentionFloors, ChunkCompressor? compressor,
        ClientWrites clientWrites, WriteOptions options, TimeProvider time, ILogger<WritePipeline> logger)
    {
        _cluster = cluster;
        _backendsPerCircle = Math.Max(1, cluster.Backends.Count / cluster.Circles.Count);
        _backends = backends;
        _journal = journal;
        _retentionFloors = retentionFloors;
        _compressor = compressor;
        _clientWrites = clientWrites;
        _options = options;
        InProgress = new ByteBudget(options.MaxConcurrentBytes, time);
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// The bodies of the requests being split and handed on, bounded by <c>max_concurrent_write_bytes</c>; the others
    /// wait with only their bodies.
    /// </summary>
    public ByteBudget InProgress { get; }

    public void Start()
    {
        if (_journal is { } journal)
            _replay = Task.Run(() => journal.ReplayAsync(RedeliverAsync, new RetryLoop(_options.RewriteInterval, _time), _stopping.Token));
    }

    /// <summary>Stops replaying and redelivering; what is left stays in the journal for the next start.</summary>
    public async Task StopAsync()
    {
        await _stopping.CancelAsync();
        Task[] redeliveries;
        lock (_redeliveriesLock)
            redeliveries = [.. _redeliveries];
        await Task.WhenAll([_replay, .. redeliveries]);
    }

    /// <summary>
    /// Writes one request. While the journal of the previous run is being replayed, new points wait behind it (so they
    /// never land before older ones), at most write_timeout; then the client is asked to retry. Points every backend
    /// would refuse as beyond their retention policy are refused here, as InfluxDB refuses them.
    /// </summary>
    public async Task<WriteAnswer> WriteAsync(string db, string rp, Precision precision, ConsistencyLevel consistency, long nowNs, ReadOnlyMemory<byte> body)
    {
        _clientWrites.Mark();
        if (_journal is { } journal && !journal.Replayed.IsCompleted
            && await Task.WhenAny(journal.Replayed, Task.Delay(_options.WriteTimeout, _time)) != journal.Replayed)
            return WriteAnswer.NewNotPersisted("the write journal of the previous run is still being delivered; retry");
        if (!await InProgress.TakeAsync(body.Length, _options.WriteTimeout))
            return WriteAnswer.NewNotPersisted(
                $"the proxy is busy: the writes before this one held max_concurrent_write_bytes ({InProgress.Capacity}) for all of write_timeout; retry");
        Submitted submitted;
        try
        {
            submitted = await SubmitAsync(db, rp, await SplitWithinRetentionAsync(db, rp, precision, nowNs, body), _journal, consistency);
        }
        finally
        {
            InProgress.Give(body.Length);
        }
        return await AnswerAsync(submitted);
    }

    /// <summary>A request's chunks handed to their owners' writers: whether the journal has them, and how to answer.</summary>
    private sealed record Submitted(WriteFanOut FanOut, bool Journaled, ConsistencyLevel Consistency)
    {
        public bool CountsCircles => !Consistency.IsAny;
    }

    /// <summary>Only a request with points older than any policy can refuse asks the backends' policies.</summary>
    private async Task<WriteFanOut> SplitWithinRetentionAsync(string db, string rp, Precision precision, long nowNs, ReadOnlyMemory<byte> body)
    {
        var fanOut = Split(db, rp, precision, nowNs, body, long.MinValue);
        if (fanOut.Oldest >= nowNs - Retention.shortestReach
            || await _retentionFloors.FloorAsync(db, rp, nowNs, fanOut.Oldest) is var floor && fanOut.Oldest >= floor)
            return fanOut;
        fanOut.Discard();
        return Split(db, rp, precision, nowNs, body, floor);
    }

    private WriteFanOut Split(string db, string rp, Precision precision, long nowNs, ReadOnlyMemory<byte> body, long retentionFloorNs) =>
        WriteFanOut.Split(body.Span, precision, nowNs, db, rp, _cluster.OwnersIn(db), _backendsPerCircle, _options.FlushSize, retentionFloorNs);

    private async Task<Submitted> SubmitAsync(string db, string rp, WriteFanOut fanOut, WriteJournal? journal, ConsistencyLevel consistency)
    {
        var chunks = fanOut.Chunks.ToList();
        if (!consistency.IsAny)
            fanOut.Tally.CountCircles(consistency, _cluster.Circles.Count, chunks.Count);
        if (_compressor is not null)
            await _compressor.CompressAsync(chunks.ConvertAll(c => c.Chunk));
        var mayAnswerEarly = journal is not null && WriteAnswerModule.mayAnswerEarly(_options.Ack,
            Microsoft.FSharp.Collections.ListModule.OfSeq(chunks.SelectMany(c => c.Owners).Select(o => _backends[o].Writer.SendsDirectly)));
        var journaled = mayAnswerEarly && await JournalAsync(journal!, db, rp, fanOut, chunks);
        fanOut.Tally.Expect(fanOut.Deliveries);
        // Submission is not cancelled with the request: once a chunk is queued, it is delivered or backlogged.
        foreach (var (owners, chunk) in chunks)
            foreach (var owner in owners)
                await _backends[owner].Writer.SubmitAsync(chunk, CancellationToken.None);
        return new Submitted(fanOut, journaled, consistency);
    }

    /// <summary>The answer once the request's chunks are submitted: at once when journaled, after their delivery otherwise.</summary>
    private async Task<WriteAnswer> AnswerAsync(Submitted submitted)
    {
        var (fanOut, consistency) = (submitted.FanOut, submitted.Consistency);
        var counts = fanOut.Counts;
        if (!submitted.Journaled)
        {
            var answer = WriteAnswerModule.afterDelivery(await fanOut.Tally.Outcome, counts);
            return submitted.CountsCircles ? ConsistencyLevelModule.answer(consistency, fanOut.Tally.Circles, answer) : answer;
        }
        if (!submitted.CountsCircles)
            return WriteAnswerModule.ofLines(counts);
        // Journaled, so kept whatever happens: the request only waits for the circles, at most write_timeout.
        try
        {
            await fanOut.Tally.CirclesDecided.WaitAsync(_options.WriteTimeout, _time);
        }
        catch (TimeoutException)
        {
        }
        // A refusal reported by then is told; a failure is not the client's concern: the journal delivers the points again.
        var refused = fanOut.Tally.WorstSoFar is Delivery.PartlyRefused seen ? seen : Delivery.Delivered;
        return ConsistencyLevelModule.answer(consistency, fanOut.Tally.Circles, WriteAnswerModule.afterDelivery(refused, counts));
    }

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
            var part = chunk.InMemoryPart;
            parts.Add(part.IsCompressed ? part.Gzip : part.Lines);
        }
        var ticket = journal.Append(db, rp, _compressor is null ? WriteJournal.Plain : WriteJournal.Gzipped, parts);
        // Runs after submission, so after the record was written or refused.
        fanOut.Tally.WhenDone(worst =>
        {
            if (ticket.Written.Result is null)
                return; // not journaled: the request waits for this outcome itself
            if (worst is Delivery.Failed failed)
                Track(RedeliverFromJournalAsync(journal, ticket, db, rp, failed.reason));
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

    /// <summary>Keeps a redelivery until it ends, so stopping can wait for it.</summary>
    private void Track(Task redelivery)
    {
        lock (_redeliveriesLock)
            _redeliveries.Add(redelivery);
        redelivery.ContinueWith(done =>
        {
            lock (_redeliveriesLock)
                _redeliveries.Remove(done);
        }, TaskScheduler.Default);
    }

    /// <summary>
    /// Points answered early that could be neither delivered nor backlogged: delivered again from their record, every
    /// rewrite_interval, until they are (the records after it wait to be committed meanwhile).
    /// </summary>
    private async Task RedeliverFromJournalAsync(WriteJournal journal, WriteJournal.Ticket ticket, string db, string rp, string reason)
    {
        LogRedeliveringFromJournal(db, reason);
        var loop = new RetryLoop(_options.RewriteInterval, _time);
        await loop.WaitAsync(wakeable: false, _stopping.Token);
        await loop.RunAsync(async _ =>
        {
            try
            {
                if (await journal.LinesOfAsync(ticket) is not { } lines || await RedeliverAsync(db, rp, lines))
                {
                    journal.Settle(ticket);
                    return Next.Done;
                }
            }
            catch (IOException e)
            {
                LogRedeliveryFailed(db, e.Message);
            }
            return Next.AfterInterval;
        }, _stopping.Token); // stopping: the record stays in the journal and is replayed at the next start
    }

    /// <summary>A record of the previous run, delivered as a request answered only once stored or backlogged.</summary>
    private async Task<bool> RedeliverAsync(string db, string rp, ReadOnlyMemory<byte> lines)
    {
        // Every journaled line carries its ns timestamp: no clock is needed.
        var answer = await AnswerAsync(await SubmitAsync(db, rp, Split(db, rp, Precision.Nanosecond, nowNs: 0, lines, long.MinValue), journal: null, ConsistencyLevel.Any));
        switch (answer)
        {
            case WriteAnswer.NotPersisted failed:
                LogRedeliveryFailed(db, failed.reason);
                return false;
            case WriteAnswer.PartiallyParsed or WriteAnswer.NothingParsed:
                // Journaled by an earlier version that took lines this one refuses (one a backend could die on).
                LogRedeliveryRefused(db, WriteAnswerModule.error(answer).Value);
                return true;
            default:
                return true;
        }
    }

    [LoggerMessage(EventId = EventIds.Redelivering, Level = LogLevel.Error, Message = "points for db {Db} answered from the journal could be neither delivered nor backlogged ({Reason}); delivering them again from the journal")]
    private partial void LogRedeliveringFromJournal(string db, string reason);

    [LoggerMessage(EventId = EventIds.RedeliveryFailed, Level = LogLevel.Warning, Message = "journal record for db {Db} not delivered yet: {Reason}")]
    private partial void LogRedeliveryFailed(string db, string reason);

    [LoggerMessage(EventId = EventIds.RedeliveryRefused, Level = LogLevel.Error, Message = "journal record for db {Db}: lines no backend can take are not delivered: {Errors}")]
    private partial void LogRedeliveryRefused(string db, string errors);
}
