using InfluxProxy.Core;
using InfluxProxy.Host.Backlog;
using InfluxProxy.Host.Hosting;

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
    private readonly WriteClient _client;
    private readonly BackendHealth _health;
    private readonly LogReader _backlog;
    private readonly RecordHistories _histories;
    private readonly QuarantineFolder _quarantine;
    private readonly QuarantinePolicy _policy;
    private readonly BackendStats _stats;
    private readonly RetryLoop _loop;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public BacklogReplayer(WriteClient client, BackendHealth health, LogReader backlog, RecordHistories histories, QuarantineFolder quarantine,
        BackendStats stats, RetryLoop loop, TimeProvider time, ILogger logger)
    {
        _client = client;
        _health = health;
        _backlog = backlog;
        _histories = histories;
        _quarantine = quarantine;
        _policy = QuarantinePolicyModule.ofRewriteInterval((long)loop.Interval.TotalMilliseconds);
        _stats = stats;
        _loop = loop;
        _time = time;
        _logger = logger;
    }

    /// <summary>True while records are being sent (the <c>rewrite</c> flag of /health).</summary>
    public bool Replaying { get; private set; }

    /// <summary>Something was appended or the backend came back: look again without waiting for the interval.</summary>
    public void Wake() => _loop.Wake();

    public Task RunAsync(CancellationToken stopping) => _loop.RunAsync(AttemptAsync, stopping);

    private async Task<Next> AttemptAsync(CancellationToken stopping)
    {
        Next next;
        try
        {
            // While Unauthorized, replay is the probe that finds out when the backend takes our credentials again.
            next = _health.State.IsDown ? Next.AfterIntervalOrWake : await ReplayOneAsync(stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return Next.Done; // stopping: the backlog stays on disk for the next start
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            // The backlog or the quarantine folder misbehaves (disk error, permissions); the record stays and is
            // tried again after the interval.
            LogReplayFailed(e, _client.Info.Name);
            next = Next.AfterInterval;
        }
        Replaying = next == Next.Now;
        return next;
    }

    /// <summary>Sends the head record, or sets it aside, as its history says.</summary>
    private async Task<Next> ReplayOneAsync(CancellationToken stopping)
    {
        if (await _backlog.PeekAsync(stopping) is not { } record)
            return Next.AfterIntervalOrWake;
        var verdict = VerdictFor(record);
        if (verdict is Verdict.Quarantine set)
            return await QuarantineAsync(record, set.reason);
        if (verdict.IsSendBehindFirst && !await SendBehindAsync(record, stopping))
            return Next.AfterIntervalOrWake;
        var outcome = await SendAsync(record);
        if (WriteOutcomeModule.isTaken(outcome))
        {
            if (outcome is WriteOutcome.PartialWrite refused)
            {
                LogDropped(_client.Info.Name, record.Db, refused.reason);
                _stats.Dropped();
            }
            else
                _stats.Replayed();
            await _backlog.CommitAsync(record, CancellationToken.None);
            _histories.Forget(record.Next);
            return Next.Now;
        }
        _histories.Update(record.Next, h => RecordHistoryModule.observe(Now, WriteOutcomeModule.sendResult(outcome), h));
        if (outcome is WriteOutcome.Transient transient)
            LogRetryLater(_client.Info.Name, record.Db, transient.reason);
        else if (outcome is WriteOutcome.Died died)
            LogWentAway(_client.Info.Name, record.Db, died.reason);
        if (VerdictFor(record) is Verdict.Quarantine now)
            return await QuarantineAsync(record, now.reason);
        return outcome.IsTransient ? Next.AfterInterval : Next.AfterIntervalOrWake;
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
        var outcome = await SendAsync(behind);
        if (WriteOutcomeModule.isTaken(outcome))
            _histories.Update(head.Next, RecordHistoryModule.behindTaken);
        else
            _histories.Update(behind.Next, h => RecordHistoryModule.observe(Now, WriteOutcomeModule.sendResult(outcome), h));
        return !_health.State.IsDown;
    }

    /// <summary>Sends a record; what the answer says of the backend's health is learned here.</summary>
    private async Task<WriteOutcome> SendAsync(BacklogRecord record)
    {
        var outcome = await _client.WriteAsync(record.Db, record.Rp, [BatchPart.Uncompressed(record.Payload)], CancellationToken.None);
        _health.Wrote(outcome);
        return outcome;
    }

    private Verdict VerdictFor(BacklogRecord record) =>
        RecordHistoryModule.verdict(_policy, Now, _backlog.PendingRecords > 1, _histories.Of(record.Next));

    /// <summary>Writes the record to the quarantine folder, durably, then lets it leave the backlog.</summary>
    private async Task<Next> QuarantineAsync(BacklogRecord record, string reason)
    {
        var path = _quarantine.Put(record, reason, _client.Info.Url, _time.GetUtcNow());
        await _backlog.CommitAsync(record, CancellationToken.None);
        _histories.Forget(record.Next);
        _stats.Quarantined();
        LogQuarantined(_client.Info.Name, record.Db, record.Rp, path, reason);
        return Next.Now;
    }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();
}
