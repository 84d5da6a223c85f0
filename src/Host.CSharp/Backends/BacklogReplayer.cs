using InfluxProxy.Core;
using InfluxProxy.Host.Backlog;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// Replays one backend's backlog in order, one record at a time, whenever the backend accepts writes. A record is
/// committed once the backend stored it, or refused it for good (partial write: logged and counted, never retried
/// forever). A record the backend cannot take stays at the head and is tried again after <c>rewrite_interval</c> (or
/// the next append, when the backend was only away), unless the <see cref="QuarantinePolicy"/> sets it aside: the
/// backend went away twice while taking it, or it keeps refusing it while it takes the record behind it. A record set
/// aside goes to the <see cref="QuarantineFolder"/> and the next one follows.
/// </summary>
public sealed partial class BacklogReplayer
{
    private enum Step
    {
        /// <summary>The head left the backlog: the next record follows at once.</summary>
        Next,
        /// <summary>Wait for the interval, an append or the backend's return.</summary>
        Wait,
        /// <summary>The backend refused the head: wait the whole interval, however much is appended meanwhile.</summary>
        WaitInterval,
    }

    private readonly BackendClient _client;
    private readonly BackendHealth _health;
    private readonly FileBacklog _backlog;
    private readonly RecordHistories _histories;
    private readonly QuarantineFolder _quarantine;
    private readonly QuarantinePolicy _policy;
    private readonly BackendStats _stats;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private TaskCompletionSource _wake = NewWake();

    public BacklogReplayer(BackendClient client, BackendHealth health, FileBacklog backlog, RecordHistories histories, QuarantineFolder quarantine,
        BackendStats stats, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        _client = client;
        _health = health;
        _backlog = backlog;
        _histories = histories;
        _quarantine = quarantine;
        _policy = QuarantinePolicyModule.ofRewriteInterval((long)interval.TotalMilliseconds);
        _stats = stats;
        _interval = interval;
        _time = time;
        _logger = logger;
    }

    /// <summary>True while records are being sent (the <c>rewrite</c> flag of /health).</summary>
    public bool Replaying { get; private set; }

    /// <summary>Something was appended or the backend came back: look again without waiting for the interval.</summary>
    public void Wake() => Volatile.Read(ref _wake).TrySetResult();

    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Step step;
            try
            {
                // While Unauthorized, replay is the probe that finds out when the backend takes our credentials again.
                step = _health.State == BackendState.Down ? Step.Wait : await ReplayOneAsync(stopping);
            }
            catch (IOException e)
            {
                // The backlog or the quarantine folder misbehaves (disk error); the record stays and is tried again
                // after the interval.
                LogReplayFailed(e, _client.Info.Name);
                step = Step.WaitInterval;
            }
            Replaying = step == Step.Next;
            if (step != Step.Next)
                await WaitAsync(wakeable: step == Step.Wait, stopping);
        }
    }

    /// <summary>Sends the head record, or sets it aside, as its history says.</summary>
    private async Task<Step> ReplayOneAsync(CancellationToken stopping)
    {
        if (await _backlog.PeekAsync(stopping) is not { } record)
            return Step.Wait;
        var verdict = VerdictFor(record);
        if (verdict is Verdict.Quarantine set)
            return await QuarantineAsync(record, set.reason);
        if (verdict.IsSendBehindFirst && !await SendBehindAsync(record, stopping))
            return Step.Wait;
        var outcome = await SendAsync(record);
        var result = ResultOf(outcome);
        if (result.IsTaken)
        {
            if (outcome.Kind == WriteOutcomeKind.PartialWrite)
            {
                LogDropped(_client.Info.Name, record.Db, outcome.Reason);
                _stats.Dropped();
            }
            else
                _stats.Replayed();
            await _backlog.CommitAsync(record, CancellationToken.None);
            _histories.Forget(record.Next);
            if (_health.State == BackendState.Unauthorized)
                _health.Set(BackendState.Up);
            return Step.Next;
        }
        _histories.Update(record.Next, h => RecordHistoryModule.observe(Now, result, h));
        if (result.IsRefused)
            LogRetryLater(_client.Info.Name, record.Db, outcome.Reason);
        if (result.IsDied)
            LogWentAway(_client.Info.Name, record.Db, outcome.Reason);
        if (VerdictFor(record) is Verdict.Quarantine now)
            return await QuarantineAsync(record, now.reason);
        return result.IsRefused ? Step.WaitInterval : Step.Wait;
    }

    /// <summary>
    /// Sends the record behind the head, to learn whether the backend takes other writes; it stays in the backlog and
    /// is sent again in its turn (a point written twice is stored once). False when the backend is away.
    /// </summary>
    private async Task<bool> SendBehindAsync(BacklogRecord head, CancellationToken stopping)
    {
        if (await _backlog.PeekBehindAsync(head, stopping) is not { } behind)
            return true;
        LogSendingBehind(_client.Info.Name, head.Db);
        var result = ResultOf(await SendAsync(behind));
        if (result.IsTaken)
            _histories.Update(head.Next, RecordHistoryModule.behindTaken);
        else
            _histories.Update(behind.Next, h => RecordHistoryModule.observe(Now, result, h));
        return !result.IsDied && _health.State != BackendState.Down;
    }

    /// <summary>Sends a record; what the answer means for the backend's health is applied here.</summary>
    private async Task<WriteOutcome> SendAsync(BacklogRecord record)
    {
        var outcome = await BatchSender.SendAsync(_client, record.Db, record.Rp, [BatchPart.Uncompressed(record.Payload)], CancellationToken.None);
        if (outcome.Kind is WriteOutcomeKind.Unreachable or WriteOutcomeKind.Died)
            _health.Set(BackendState.Down);
        else if (outcome.Kind == WriteOutcomeKind.Unauthorized)
            _health.Set(BackendState.Unauthorized);
        return outcome;
    }

    private Verdict VerdictFor(BacklogRecord record) =>
        RecordHistoryModule.verdict(_policy, Now, _backlog.PendingRecords > 1, _histories.Of(record.Next));

    /// <summary>Writes the record to the quarantine folder, durably, then lets it leave the backlog.</summary>
    private async Task<Step> QuarantineAsync(BacklogRecord record, string reason)
    {
        var path = _quarantine.Put(record, reason, _client.Info.Url, _time.GetUtcNow());
        await _backlog.CommitAsync(record, CancellationToken.None);
        _histories.Forget(record.Next);
        _stats.Quarantined();
        LogQuarantined(_client.Info.Name, record.Db, record.Rp, path, reason);
        return Step.Next;
    }

    /// <summary>What a send says about the record itself.</summary>
    private static SendResult ResultOf(WriteOutcome outcome) => outcome.Kind switch
    {
        WriteOutcomeKind.Delivered or WriteOutcomeKind.PartialWrite => SendResult.Taken,
        WriteOutcomeKind.Transient => SendResult.NewRefused(outcome.Reason),
        WriteOutcomeKind.Died => SendResult.NewDied(outcome.Reason),
        _ => SendResult.Missed,
    };

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Until woken (when <paramref name="wakeable"/>), the interval passes, or shutdown (the backlog stays on disk for
    /// the next start). It throws nothing, not even inside the framework: it runs in every replayer every interval,
    /// and an exception costs far more than a wait (the process's first one about 25 ms of CPU, loading the runtime's
    /// message resources).
    /// </summary>
    private async Task WaitAsync(bool wakeable, CancellationToken stopping)
    {
        var wake = Volatile.Read(ref _wake);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var interval = Task.Delay(_interval, _time, done.Token);
        await (wakeable ? Task.WhenAny(wake.Task, interval) : Task.WhenAny(interval));
        done.Cancel();
        // A wake after this point completes the new source, so the next wait returns at once.
        if (wake.Task.IsCompleted)
            Interlocked.CompareExchange(ref _wake, NewWake(), wake);
    }

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
