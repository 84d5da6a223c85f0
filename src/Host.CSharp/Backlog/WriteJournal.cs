using InfluxProxy.Host.Hosting;
using InfluxProxy.Host.Write;
using InfluxProxy.Host.Backlog;

namespace InfluxProxy.Host.Backlog;

/// <summary>
/// The write journal of <c>write_ack: journaled</c>: a /write is answered once its lines are fsynced here, and is
/// delivered to its owners afterwards. It is a <see cref="FileBacklog"/> of its own, in
/// <c>&lt;data_dir&gt;/journal/writes.backlog/</c>, with one record per request:
///
/// <code>
/// record body := db | rp | appended-at | payload             (FileBacklog's record format)
/// payload     := u8 encoding | the request's lines, in ns, each with its timestamp
/// encoding    := 0 plain | 1 gzip (members concatenated: one gzip stream)
/// </code>
///
/// <para>Records are committed in append order once every owner of their points has stored or backlogged them (a
/// request delivered early waits for the ones before it), so a crash leaves only records not known to be delivered.
/// At the next start they are replayed before the journal takes new records; a point written twice is stored once.
/// A request whose points could not be backlogged after its answer is delivered again from its record until they
/// are.</para>
///
/// <para>As background work it commits settled records, at most once per second (a commit is an fsync), and closes
/// the log when stopped.</para>
/// </summary>
public sealed partial class WriteJournal : IBackgroundWork
{
    public const byte Plain = 0;
    public const byte Gzipped = 1;
    private static readonly TimeSpan CommitPause = TimeSpan.FromSeconds(1);

    private readonly FileBacklog _log;
    private readonly RetryLoop _commits;
    private readonly ILogger _logger;
    private readonly Lock _order = new();
    private readonly Queue<Ticket> _tickets = new(); // in the log's order; guarded by _order
    private readonly List<Ticket> _committing = []; // written records resolved and not committed yet: the commit loop's
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _replayed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _committer = Task.CompletedTask;
    private long _unreadable;

    private WriteJournal(FileBacklog log, TimeProvider time, ILogger logger)
    {
        _log = log;
        // A commit is an fsync; one per CommitPause covers every request settled meanwhile. Delay only means a crash
        // in between replays a few more delivered records.
        _commits = new RetryLoop(CommitPause, time);
        _logger = logger;
    }

    /// <summary>One request's record: whether it reached the disk, and whether its points reached their owners.</summary>
    public sealed class Ticket(int payloadLength)
    {
        // Set from a pool thread holding no lock: the waiting request may continue on it, saving a thread hop.
        private readonly TaskCompletionSource<BacklogPosition?> _written = new();

        public int PayloadLength => payloadLength;

        /// <summary>Where the record ends (its payload is its last part); once written.</summary>
        internal BacklogPosition End => Written.Result! with { Offset = Written.Result!.Offset + payloadLength };

        /// <summary>Where the payload is once fsynced; null when the disk refused (then there is no record).</summary>
        public Task<BacklogPosition?> Written => _written.Task;

        /// <summary>The record's size on disk, once written.</summary>
        internal int RecordBytes { get; private set; }

        internal bool Settled { get; set; }
        internal bool Resolved => Written.IsCompleted && (Written.Result is null || Settled);

        internal void SetWritten(AppendResult result)
        {
            RecordBytes = result.RecordBytes;
            _written.SetResult(result.Payload);
        }
    }

    /// <summary>
    /// Completes once what the previous run left (damaged records stepped over) is replayed; no records are taken
    /// before, so new points never land before older ones.
    /// </summary>
    public Task Replayed => _replayed.Task;

    public long PendingBytes => _log.Reader.PendingBytes;
    public long PendingRecords => _log.Reader.PendingRecords;

    /// <summary>Damaged records stepped over since the start: found when opening, while reading, or unreadable inside.</summary>
    public long CorruptRecords => _log.Recovery.CorruptRecordsSkipped + _log.Reader.CorruptRecordsSkipped + Interlocked.Read(ref _unreadable);

    /// <param name="options">Segment size and fault injection, for tests.</param>
    public static async Task<WriteJournal> OpenAsync(string dataDir, TimeProvider time, ILoggerFactory loggers, CancellationToken ct, BacklogOptions? options = null)
    {
        var log = await FileBacklog.OpenAsync(Path.Combine(dataDir, "journal"), "writes", options ?? new BacklogOptions(), time, loggers.CreateLogger<FileBacklog>(), ct);
        return new WriteJournal(log, time, loggers.CreateLogger<WriteJournal>());
    }

    /// <summary>
    /// Queues one request's record in order: the encoding byte, then <paramref name="lines"/> one after the other
    /// (copied before this returns); <see cref="Ticket.Written"/> says when it is durable and where the pieces are.
    /// </summary>
    public Ticket Append(string db, string rp, byte encoding, IReadOnlyList<ReadOnlyMemory<byte>> lines)
    {
        IReadOnlyList<ReadOnlyMemory<byte>> payload = [new[] { encoding }, .. lines];
        var ticket = new Ticket(payload.Sum(p => p.Length));
        ValueTask<AppendResult> appending;
        lock (_order)
        {
            // The backlog queues the record before its first await: records enter the log in ticket order.
            appending = _log.AppendAsync(db, rp, payload, CancellationToken.None);
            _tickets.Enqueue(ticket);
        }
        _ = CompleteWhenWrittenAsync(ticket, appending); // its ticket stays queued until written: stopping waits for it
        return ticket;
    }

    /// <summary>Bytes of a written payload, read back from the file (its record is kept until settled).</summary>
    public ValueTask<byte[]> ReadAsync(BacklogPosition at, int length) => _log.ReadAsync(at, length, CancellationToken.None);

    /// <summary>As above, into <paramref name="into"/> (its whole length).</summary>
    public ValueTask ReadAsync(BacklogPosition at, Memory<byte> into) => _log.ReadAsync(at, into, CancellationToken.None);

    /// <summary>The lines of a written record, read back; null when they cannot be decoded (logged).</summary>
    public async Task<ReadOnlyMemory<byte>?> LinesOfAsync(Ticket ticket)
    {
        var at = await ticket.Written ?? throw new InvalidOperationException("the record was not written");
        return LinesOf(await ReadAsync(at, ticket.PayloadLength), at);
    }

    /// <summary>Every owner stored the request's points or has them in its backlog: its record may go.</summary>
    public void Settle(Ticket ticket)
    {
        lock (_order)
            ticket.Settled = true;
        Wake();
    }

    /// <summary>
    /// Hands every record left by the previous run to <paramref name="redeliver"/>, in order, committing each one it
    /// took (true); one it did not take is offered again after the loop's interval. Then new records are taken.
    /// </summary>
    public Task ReplayAsync(Func<string, string, ReadOnlyMemory<byte>, Task<bool>> redeliver, RetryLoop loop, CancellationToken stopping)
    {
        var replayed = 0;
        return loop.RunAsync(async ct =>
        {
            try
            {
                if (await _log.Reader.PeekAsync(ct) is not { } record)
                {
                    if (replayed > 0)
                        LogReplayed(replayed);
                    _replayed.TrySetResult();
                    return Next.Done;
                }
                if (LinesOf(record.Payload, record.Position) is not { } lines || await redeliver(record.Db, record.Rp, lines))
                {
                    await _log.Reader.CommitAsync(record, CancellationToken.None);
                    replayed++;
                    return Next.Now;
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return Next.Done; // stopping: what is left is replayed at the next start
            }
            catch (Exception e)
            {
                // Whatever failed (the disk, a bug), new writes wait behind the replay: try again, never give up.
                LogReplayFailed(e);
            }
            return Next.AfterInterval;
        }, stopping);
    }

    public void Start() => _committer = Task.Run(() => _commits.RunAsync(_ => CommitResolvedAsync(), _stopping.Token));

    /// <summary>Commits what is settled, then closes the log; records still waiting are replayed at the next start.</summary>
    public async Task StopAsync()
    {
        await _stopping.CancelAsync();
        await _committer;
        await CommitResolvedAsync();
        // Appends already queued complete (written or refused) before the log closes.
        await _log.DisposeAsync();
        Task[] writing;
        lock (_order)
            writing = [.. _tickets.Select(t => t.Written)];
        await Task.WhenAll(writing);
    }

    private async Task CompleteWhenWrittenAsync(Ticket ticket, ValueTask<AppendResult> appending)
    {
        AppendResult result;
        try
        {
            result = await appending;
        }
        catch (Exception e)
        {
            // The log is closing, or failed: the request must learn it, not wait forever.
            result = new AppendResult(AppendOutcome.IoError, e.Message);
        }
        if (result.Outcome != AppendOutcome.Appended)
            LogAppendFailed(result.Error ?? result.Outcome.ToString());
        _commits.Wake();
        ticket.SetWritten(result);
    }

    private ReadOnlyMemory<byte>? LinesOf(ReadOnlyMemory<byte> payload, BacklogPosition at)
    {
        try
        {
            return payload.Span[0] switch
            {
                Plain => payload[1..],
                Gzipped => Gzip.Inflate(payload.Span[1..]),
                _ => throw new InvalidDataException($"unknown encoding {payload.Span[0]}"),
            };
        }
        catch (Exception e) when (e is InvalidDataException or IndexOutOfRangeException)
        {
            Interlocked.Increment(ref _unreadable);
            LogUnreadable(at.ToString(), e.Message);
            return null;
        }
    }

    private void Wake() => _commits.Wake();

    /// <summary>
    /// Commits, at once, the records at the head of the log whose requests are resolved. Records a failed commit did
    /// not cover stay counted, and the next commit covers them.
    /// </summary>
    private async Task<Next> CommitResolvedAsync()
    {
        lock (_order)
            while (_tickets.TryPeek(out var head) && head.Resolved)
            {
                var resolved = _tickets.Dequeue();
                if (resolved.Written.Result is not null)
                    _committing.Add(resolved);
            }
        if (_committing.Count == 0)
            return Next.AfterIntervalOrWake;
        try
        {
            await _log.Reader.CommitThroughAsync(_committing[^1].End, _committing.Count, _committing.Sum(t => (long)t.RecordBytes), CancellationToken.None);
            _committing.Clear();
        }
        catch (Exception e)
        {
            // The records stay on disk, replayed at the next start if no later commit covers them.
            LogCommitFailed(e);
        }
        return Next.AfterInterval;
    }

    [LoggerMessage(EventId = EventIds.JournalReplayed, Level = LogLevel.Information, Message = "write journal: {Records} records of the previous run replayed")]
    private partial void LogReplayed(long records);

    [LoggerMessage(EventId = EventIds.JournalReplayFailed, Level = LogLevel.Warning, Message = "write journal: replay failed, retrying")]
    private partial void LogReplayFailed(Exception error);

    [LoggerMessage(EventId = EventIds.JournalAppendFailed, Level = LogLevel.Warning, Message = "write journal: a request could not be journaled ({Reason}); it is answered once delivered")]
    private partial void LogAppendFailed(string reason);

    [LoggerMessage(EventId = EventIds.JournalUnreadable, Level = LogLevel.Error, Message = "write journal: record at {Position} is unreadable and skipped: {Reason}")]
    private partial void LogUnreadable(string position, string reason);

    [LoggerMessage(EventId = EventIds.JournalCommitFailed, Level = LogLevel.Warning, Message = "write journal: commit failed; retried at the next delivery")]
    private partial void LogCommitFailed(Exception error);
}
