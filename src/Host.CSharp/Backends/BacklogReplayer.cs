using InfluxProxy.Host.Backlog;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// Replays one backend's backlog in order, one record at a time, whenever the backend accepts writes. A record is
/// committed once the backend stored it, or refused it for good (partial write: logged and counted, never retried
/// forever); anything else leaves it at the head and waits <c>rewrite_interval</c> or the next append.
/// </summary>
public sealed partial class BacklogReplayer
{
    private readonly BackendClient _client;
    private readonly BackendHealth _health;
    private readonly FileBacklog _backlog;
    private readonly BackendStats _stats;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private TaskCompletionSource _wake = NewWake();

    public BacklogReplayer(BackendClient client, BackendHealth health, FileBacklog backlog, BackendStats stats,
        TimeSpan interval, TimeProvider time, ILogger logger)
    {
        _client = client;
        _health = health;
        _backlog = backlog;
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
            bool progressed;
            try
            {
                // While Unauthorized, replay is the probe that finds out when the backend takes our credentials again.
                progressed = _health.State != BackendState.Down && await ReplayOneAsync(stopping);
            }
            catch (IOException e)
            {
                // The backlog file misbehaves (disk error); the record stays and is tried again after the interval.
                LogReplayFailed(e, _client.Info.Name);
                progressed = false;
            }
            Replaying = progressed;
            if (!progressed)
                await WaitAsync(stopping);
        }
    }

    /// <summary>Sends the head record; true when it was committed and the next one can follow at once.</summary>
    private async Task<bool> ReplayOneAsync(CancellationToken stopping)
    {
        if (await _backlog.PeekAsync(stopping) is not { } record)
            return false;
        var outcome = await BatchSender.SendAsync(_client, record.Db, record.Rp, [BatchPart.Uncompressed(record.Payload)], CancellationToken.None);
        switch (outcome.Kind)
        {
            case WriteOutcomeKind.Delivered:
                await _backlog.CommitAsync(record, CancellationToken.None);
                _stats.Replayed();
                if (_health.State == BackendState.Unauthorized)
                    _health.Set(BackendState.Up);
                return true;
            case WriteOutcomeKind.PartialWrite:
                LogDropped(_client.Info.Name, record.Db, outcome.Reason);
                await _backlog.CommitAsync(record, CancellationToken.None);
                _stats.Dropped();
                return true;
            case WriteOutcomeKind.Unreachable:
                _health.Set(BackendState.Down);
                return false;
            case WriteOutcomeKind.Unauthorized:
                _health.Set(BackendState.Unauthorized);
                return false;
            default:
                LogRetryLater(_client.Info.Name, record.Db, outcome.Reason);
                return false;
        }
    }

    /// <summary>
    /// Until woken, the interval passes, or shutdown (the backlog stays on disk for the next start). It throws nothing,
    /// not even inside the framework: it runs in every replayer every interval, and an exception costs far more than
    /// a wait (the process's first one about 25 ms of CPU, loading the runtime's message resources).
    /// </summary>
    private async Task WaitAsync(CancellationToken stopping)
    {
        var wake = Volatile.Read(ref _wake);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        await Task.WhenAny(wake.Task, Task.Delay(_interval, _time, done.Token));
        done.Cancel();
        // A wake after this point completes the new source, so the next wait returns at once.
        if (wake.Task.IsCompleted)
            Interlocked.CompareExchange(ref _wake, NewWake(), wake);
    }

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
