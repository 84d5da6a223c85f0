using InfluxProxy.Host.Backlog;

namespace InfluxProxy.Host.Backends;

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
/// </summary>
public sealed partial class WriteJournal : IAsyncDisposable
{
    public const byte Plain = 0;
    public const byte Gzipped = 1;
    private static readonly TimeSpan CommitPause = TimeSpan.FromSeconds(1);

    private readonly FileBacklog _log;
    private readonly ILogger _logger;
    private readonly Lock _order = new();
    private readonly Queue<Ticket> _tickets = new(); // in the log's order; guarded by _order
    private readonly SemaphoreSlim _wake = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _committer;
    private readonly TaskCompletionSource _replayed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private WriteJournal(FileBacklog log, ILogger logger)
    {
        _log = log;
        _logger = logger;
        // Commits read and fsync: a thread of their own, not one of the pool's.
        _committer = Task.Factory.StartNew(CommitLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
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

        internal bool Settled { get; set; }
        internal bool Resolved => Written.IsCompleted && (Written.Result is null || Settled);
        internal void SetWritten(BacklogPosition? payload) => _written.SetResult(payload);
    }

    /// <summary>
    /// Completes once what the previous run left (damaged records stepped over) is replayed; no records are taken
    /// before, so new points never land before older ones.
    /// </summary>
    public Task Replayed => _replayed.Task;

    public long PendingBytes => _log.PendingBytes;
    public long PendingRecords => _log.PendingRecords;

    /// <param name="options">Segment size and fault injection, for tests.</param>
    public static async Task<WriteJournal> OpenAsync(string dataDir, TimeProvider time, ILoggerFactory loggers, CancellationToken ct, BacklogOptions? options = null)
    {
        var log = await FileBacklog.OpenAsync(Path.Combine(dataDir, "journal"), "writes", options ?? new BacklogOptions(), time, loggers.CreateLogger<FileBacklog>(), ct);
        return new WriteJournal(log, loggers.CreateLogger<WriteJournal>());
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
        _ = CompleteWhenWrittenAsync(ticket, appending);
        return ticket;
    }

    /// <summary>Bytes of a written payload, read back from the file (its record is kept until settled).</summary>
    public ValueTask<byte[]> ReadAsync(BacklogPosition at, int length) => _log.ReadAsync(at, length, CancellationToken.None);

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
    /// took (true); one it did not take is offered again after <paramref name="retry"/>. Then new records are taken.
    /// </summary>
    public async Task ReplayAsync(Func<string, string, ReadOnlyMemory<byte>, Task<bool>> redeliver, TimeSpan retry, TimeProvider time, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (await _log.PeekAsync(stopping) is not { } record)
                {
                    if (_log.ReplayedRecords > 0)
                        LogReplayed(_log.ReplayedRecords);
                    _replayed.TrySetResult();
                    return;
                }
                if (LinesOf(record.Payload, record.Position) is not { } lines || await redeliver(record.Db, record.Rp, lines))
                {
                    await _log.CommitAsync(record, CancellationToken.None);
                    continue;
                }
            }
            catch (OperationCanceledException)
            {
                return; // stopping: what is left is replayed at the next start
            }
            catch (Exception e)
            {
                LogReplayFailed(e);
            }
            try
            {
                await Task.Delay(retry, time, stopping);
            }
            catch (OperationCanceledException)
            {
                return; // stopping: what is left is replayed at the next start
            }
        }
    }

    /// <summary>Commits what is settled, then closes the log; records still waiting are replayed at the next start.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _committer;
        await _log.DisposeAsync();
    }

    private async Task CompleteWhenWrittenAsync(Ticket ticket, ValueTask<AppendResult> appending)
    {
        AppendResult result;
        try
        {
            result = await appending;
        }
        catch (ObjectDisposedException e)
        {
            result = new AppendResult(AppendOutcome.IoError, e.Message);
        }
        if (result.Outcome != AppendOutcome.Appended)
            LogAppendFailed(result.Error ?? result.Outcome.ToString());
        Wake();
        ticket.SetWritten(result.Payload);
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
            LogUnreadable(at.ToString(), e.Message);
            return null;
        }
    }

    private void Wake()
    {
        if (_wake.CurrentCount == 0)
            _wake.Release();
    }

    private void CommitLoop()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                _wake.Wait(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            CommitResolved();
            // A commit is an fsync; one per CommitPause covers every request settled meanwhile. Delay only means a
            // crash in between replays a few more delivered records.
            _stopping.Token.WaitHandle.WaitOne(CommitPause);
        }
        CommitResolved();
    }

    /// <summary>Commits, at once, the records at the head of the log whose requests are resolved.</summary>
    private void CommitResolved()
    {
        var resolved = new List<Ticket>();
        lock (_order)
            while (_tickets.TryPeek(out var head) && head.Resolved)
                resolved.Add(_tickets.Dequeue());
        if (resolved.LastOrDefault(t => t.Written.Result is not null) is not { } last)
            return;
        try
        {
            // Completes synchronously: the backlog reads and writes its files directly.
            _log.CommitThroughAsync(last.End, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            // The records stay on disk, replayed at the next start; a later commit covers them.
            LogCommitFailed(e);
        }
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information, Message = "write journal: {Records} records of the previous run replayed")]
    private partial void LogReplayed(long records);

    [LoggerMessage(EventId = 501, Level = LogLevel.Warning, Message = "write journal: replay failed, retrying")]
    private partial void LogReplayFailed(Exception error);

    [LoggerMessage(EventId = 502, Level = LogLevel.Warning, Message = "write journal: a request could not be journaled ({Reason}); it is answered once delivered")]
    private partial void LogAppendFailed(string reason);

    [LoggerMessage(EventId = 503, Level = LogLevel.Error, Message = "write journal: record at {Position} is unreadable and skipped: {Reason}")]
    private partial void LogUnreadable(string position, string reason);

    [LoggerMessage(EventId = 504, Level = LogLevel.Warning, Message = "write journal: commit failed; retried at the next delivery")]
    private partial void LogCommitFailed(Exception error);
}
