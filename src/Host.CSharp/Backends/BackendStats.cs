namespace InfluxProxy.Host.Backends;

/// <summary>Counters of one backend's write path, for /health and /metrics.</summary>
public sealed class BackendStats
{
    private long _delivered;
    private long _backlogged;
    private long _refused;
    private long _replayed;
    private long _dropped;
    private long _quarantined;

    public long DeliveredPoints => Interlocked.Read(ref _delivered);
    public long BackloggedPoints => Interlocked.Read(ref _backlogged);
    /// <summary>Points in batches the backend answered with a partial write (some of them refused).</summary>
    public long RefusedBatchPoints => Interlocked.Read(ref _refused);
    public long ReplayedRecords => Interlocked.Read(ref _replayed);
    /// <summary>Backlog records dropped because the backend refused them for good (logged with the reason).</summary>
    public long DroppedRecords => Interlocked.Read(ref _dropped);
    /// <summary>Backlog records set aside in the quarantine folder since the start (logged with the reason).</summary>
    public long QuarantinedRecords => Interlocked.Read(ref _quarantined);

    public void Delivered(int points) => Interlocked.Add(ref _delivered, points);
    public void Backlogged(int points) => Interlocked.Add(ref _backlogged, points);
    public void Refused(int points) => Interlocked.Add(ref _refused, points);
    public void Replayed() => Interlocked.Increment(ref _replayed);
    public void Dropped() => Interlocked.Increment(ref _dropped);
    public void Quarantined() => Interlocked.Increment(ref _quarantined);
}
