using InfluxProxy.Core;
using InfluxProxy.Host.Backlog;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// What the sends of each waiting record of one backend's backlog came to (<see cref="RecordHistory"/>), by where the
/// record ends: the writer notes a death after a live batch it then backlogged, the replayer the rest. A record's
/// history goes once the record leaves the backlog. In memory only: after a restart a record starts afresh.
/// </summary>
public sealed class RecordHistories
{
    private readonly Lock _lock = new();
    private readonly Dictionary<BacklogPosition, RecordHistory> _byEnd = [];

    public RecordHistory Of(BacklogPosition end)
    {
        lock (_lock)
            return _byEnd.GetValueOrDefault(end, RecordHistoryModule.fresh);
    }

    /// <summary>Applies <paramref name="change"/> to the record's history; returns the new one.</summary>
    public RecordHistory Update(BacklogPosition end, Func<RecordHistory, RecordHistory> change)
    {
        lock (_lock)
            return _byEnd[end] = change(_byEnd.GetValueOrDefault(end, RecordHistoryModule.fresh));
    }

    public void Forget(BacklogPosition end)
    {
        lock (_lock)
            _byEnd.Remove(end);
    }
}
