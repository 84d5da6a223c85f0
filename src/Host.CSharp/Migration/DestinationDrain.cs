using InfluxProxy.Host.Backends;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// Waits until every point queued for a destination so far has reached it: what its writer was given before the
/// wait is settled and its backlog is empty (a copy's batches backlogged while it was down included). A copy's own
/// batches (<see cref="BackendWriter.SendNowAsync"/>) were settled when the copy step that sent them ended.
/// </summary>
public static class DestinationDrain
{
    /// <summary>False when <paramref name="limit"/> passed first.</summary>
    public static async Task<bool> WaitAsync(Backend backend, TimeSpan limit, TimeProvider time, CancellationToken ct)
    {
        var deadline = limit == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : time.GetUtcNow() + limit;
        var submitted = backend.Writer.Submitted;
        while (!(backend.Writer.SettledThrough(submitted) && backend.Backlog.Reader.IsEmpty))
        {
            if (time.GetUtcNow() > deadline)
                return false;
            await Task.Delay(TimeSpan.FromMilliseconds(200), time, ct);
        }
        return true;
    }
}
