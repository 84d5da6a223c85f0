using System.Diagnostics;
using System.Threading.Channels;
using InfluxProxy.Core;
using InfluxProxy.Host.Backlog;
using InfluxProxy.Host.Write;
using Prometheus;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// The single owner of one backend's outgoing batches. Requests hand it <see cref="LineChunk"/>s; it groups them by
/// (db, rp) into batches of at most <c>flush_size</c> lines and sends as soon as no more input is queued (group
/// commit): under load batches grow while a send is in flight, when idle a request waits one round trip. Under a
/// steady stream a batch short of <c>flush_size</c> that follows the previous send closely waits <see cref="Linger"/>
/// for more. A batch the backend cannot take goes to the backlog, and while the backlog holds anything, new batches
/// queue behind it so a measurement's points are never reordered.
/// </summary>
public sealed partial class BackendWriter
{
    private readonly Channel<LineChunk> _input = Channel.CreateBounded<LineChunk>(
        new BoundedChannelOptions(4096) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly WriteClient _client;
    private readonly BackendHealth _health;
    private readonly FileBacklog _backlog;
    private readonly RecordHistories _histories;
    private readonly int _flushSize;
    private readonly Histogram _flushSeconds;
    private readonly TimeProvider _time;
    private readonly Action _backlogGrew;
    private readonly ILogger _logger;

    /// <param name="flushSeconds">The instrument every flush's time is observed on, by backend and outcome.</param>
    public BackendWriter(WriteClient client, BackendHealth health, FileBacklog backlog, RecordHistories histories, BackendStats stats, int flushSize,
        Histogram flushSeconds, TimeProvider time, Action backlogGrew, ILogger logger)
    {
        Stats = stats;
        _client = client;
        _health = health;
        _backlog = backlog;
        _histories = histories;
        _flushSize = flushSize;
        _flushSeconds = flushSeconds;
        _time = time;
        _backlogGrew = backlogGrew;
        _logger = logger;
    }

    private BackendStats Stats { get; }

    /// <summary>Chunks taken into the batches under way, settled together once they are sent.</summary>
    private int _taken;

    /// <summary>Chunks handed to the writer and not taken into a batch yet.</summary>
    public int QueuedChunks => _input.Reader.Count;

    private int _sending;
    private long _lastSendEnded;

    /// <summary>
    /// How long a batch short of <c>flush_size</c> waits for more when the previous send ended less than this ago.
    /// Group commit alone sends what arrived during the last send, so small requests made small batches: at 100-line
    /// requests influxd took a batch of about 220 lines, paying an HTTP request and a WAL fsync for each (18.5 CPU-s per
    /// million points against 6–7 at 5,000-line requests; measured). An idle backend gets each request at once.
    /// </summary>
    public static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(5);

    /// <summary>A batch is on its way to the backend, its answer not back yet.</summary>
    public bool Sending => Volatile.Read(ref _sending) > 0;

    /// <summary>Batches go straight to the backend: it accepts writes and nothing waits in its backlog.</summary>
    public bool SendsDirectly => _backlog.Reader.IsEmpty && _health.AcceptsWrites;

    private long _submitted;
    private long _settled;

    public async ValueTask SubmitAsync(LineChunk chunk, CancellationToken ct)
    {
        await _input.Writer.WriteAsync(chunk, ct);
        Interlocked.Increment(ref _submitted);
    }

    /// <summary>How many chunks were submitted so far: pass it to <see cref="SettledThrough"/>.</summary>
    public long Submitted => Interlocked.Read(ref _submitted);

    /// <summary>
    /// Every chunk of the first <paramref name="submitted"/> is settled: sent, refused or backlogged. Chunks settle in
    /// the order they were submitted (one writer, batches in turn), so a drain can wait for what was queued before
    /// it without waiting for a moment when nothing at all is queued, which steady writes may never leave.
    /// </summary>
    public bool SettledThrough(long submitted) => Interlocked.Read(ref _settled) >= submitted;

    /// <summary>
    /// Sends one chunk at once, beside the queued ones (a migration's large batches, several at a time), or backlogs
    /// it when the backend does not take it or its backlog holds anything; completes the chunk.
    /// </summary>
    public Task SendNowAsync(LineChunk chunk) => FlushOrFailAsync(chunk.Db, chunk.Rp, [chunk]);

    /// <summary>No more chunks will come; <see cref="RunAsync"/> returns once everything queued is sent or backlogged.</summary>
    public void Complete() => _input.Writer.TryComplete();

    public async Task RunAsync()
    {
        var reader = _input.Reader;
        var pending = new Dictionary<(string Db, string Rp), List<LineChunk>>();
        while (await reader.WaitToReadAsync())
        {
            var lines = TakeQueued(reader, pending, 0);
            if (lines < _flushSize && !reader.TryPeek(out _) && _time.GetElapsedTime(Volatile.Read(ref _lastSendEnded)) < Linger)
            {
                await Task.Delay(Linger, _time);
                lines = TakeQueued(reader, pending, lines);
            }
            foreach (var ((db, rp), batch) in pending)
                await FlushOrFailAsync(db, rp, batch);
            pending.Clear();
            Interlocked.Add(ref _settled, Interlocked.Exchange(ref _taken, 0));
        }
    }

    /// <summary>
    /// Moves queued chunks into their (db, rp) groups while they fit in <c>flush_size</c> lines (the first one always);
    /// the lines taken in all. A chunk that does not fit waits for the next batch rather than being sent alone after
    /// this one: with requests split over the owners unevenly, batches of 8,250 and 2,750 lines went out where one
    /// of 8,250 and the rest with the next would do (`bench`: 238 instead of 360 POSTs per million points, and the four
    /// influxd spent 6.25 instead of 7.78 CPU-s per million points).
    /// </summary>
    private int TakeQueued(ChannelReader<LineChunk> reader, Dictionary<(string Db, string Rp), List<LineChunk>> pending, int lines)
    {
        while (reader.TryPeek(out var next) && (lines == 0 || lines + next.Lines <= _flushSize) && reader.TryRead(out var chunk))
        {
            lines += chunk.Lines;
            Interlocked.Increment(ref _taken);
            var key = (chunk.Db, chunk.Rp);
            if (!pending.TryGetValue(key, out var group))
                pending[key] = group = [];
            group.Add(chunk);
        }
        return lines;
    }

    /// <summary>A bug or an unexpected I/O error must not stop the writer: the batch's requests learn of it.</summary>
    private async Task FlushOrFailAsync(string db, string rp, List<LineChunk> batch)
    {
        try
        {
            await FlushAsync(db, rp, batch);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or InvalidOperationException)
        {
            LogFlushFailed(e, _client.Info.Name, db);
            CompleteAll(batch, Delivery.NewFailed($"backend {_client.Info.Name}: {e.Message}"));
        }
    }

    private async Task FlushAsync(string db, string rp, List<LineChunk> batch)
    {
        if (!SendsDirectly)
        {
            await ToBacklogAsync(db, rp, batch, batch.Sum(c => c.Lines));
            return;
        }
        var outcome = await SendAsync(db, rp, batch);
        if (outcome.IsPartialWrite && batch.Count > 1)
        {
            // The backend kept the valid lines of the batch, but its answer does not say whose lines it refused: each
            // request's chunk is sent again alone (a point written twice is stored once), so only the request that
            // sent the refused lines is told. Each settles (or fails) on its own.
            foreach (var chunk in batch)
                await FlushOrFailAsync(db, rp, [chunk]);
            return;
        }
        await SettleAsync(db, rp, batch, outcome);
    }

    private async Task<WriteOutcome> SendAsync(string db, string rp, List<LineChunk> batch)
    {
        // Sends are bounded by write_timeout, not by shutdown: a stopping proxy still finishes or backlogs them.
        var started = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _sending);
        WriteOutcome outcome;
        try
        {
            using var parts = await BatchParts.ReadAsync(batch);
            outcome = await _client.WriteAsync(db, rp, parts.Parts, CancellationToken.None);
        }
        finally
        {
            Interlocked.Decrement(ref _sending);
            Volatile.Write(ref _lastSendEnded, _time.GetTimestamp());
        }
        _flushSeconds.WithLabels(_client.Info.Name, WriteOutcomeModule.label(outcome)).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        _health.Wrote(outcome);
        return outcome;
    }

    /// <summary>Completes the batch's chunks with what the backend's answer means for them.</summary>
    private async Task SettleAsync(string db, string rp, List<LineChunk> batch, WriteOutcome outcome)
    {
        var lines = batch.Sum(c => c.Lines);
        switch (outcome)
        {
            case var _ when outcome.IsWritten:
                Stats.Delivered(lines);
                CompleteAll(batch, Delivery.Delivered);
                break;
            case WriteOutcome.PartialWrite refused:
                Stats.Refused(lines);
                LogPartialWrite(_client.Info.Name, db, lines, refused.reason);
                CompleteAll(batch, Delivery.NewPartlyRefused(refused.reason));
                break;
            default:
                LogWriteFailed(_client.Info.Name, db, lines, WriteOutcomeModule.label(outcome), WriteOutcomeModule.reason(outcome));
                if (await ToBacklogAsync(db, rp, batch, lines) is { } record && outcome is WriteOutcome.Died died)
                    // The backend went away with this batch: the first of the deaths that set a record aside.
                    _histories.Update(record, h => RecordHistoryModule.observe(_time.GetUtcNow().ToUnixTimeMilliseconds(), SendResult.NewWentAway(died.reason), h));
                break;
        }
    }

    /// <summary>Appends the batch to the backlog and completes its chunks; where the record ends, or null when refused.</summary>
    private async Task<BacklogPosition?> ToBacklogAsync(string db, string rp, List<LineChunk> batch, int lines)
    {
        using var parts = await BatchParts.ReadAsync(batch);
        var result = await _backlog.AppendAsync(db, rp, parts.Parts.Select(p => p.Text).ToList(), CancellationToken.None);
        if (result.Outcome == AppendOutcome.Appended)
        {
            Stats.Backlogged(lines);
            CompleteAll(batch, Delivery.Backlogged);
            _backlogGrew();
            return result.End;
        }
        var reason = result.Outcome switch
        {
            AppendOutcome.Full => $"backend {_client.Info.Name} is unavailable and its backlog is full",
            AppendOutcome.TooLarge => $"backend {_client.Info.Name} is unavailable and the batch cannot be backlogged: {result.Error}",
            _ => $"backend {_client.Info.Name} is unavailable and its backlog cannot be written: {result.Error}",
        };
        LogBacklogRefused(_client.Info.Name, db, lines, reason);
        CompleteAll(batch, Delivery.NewFailed(reason));
        return null;
    }

    private void CompleteAll(List<LineChunk> batch, Delivery delivery)
    {
        foreach (var chunk in batch)
            chunk.Complete(delivery, _client.Info.Circle);
    }
}
