using InfluxProxy.Host.Backends;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// Waits until a destination's writer and backlog hold nothing: every point queued for it so far (a copy's batches
/// backlogged while it was down included) has reached it.
/// </summary>
public static class DestinationDrain
{
    /// <summary>False when <paramref name="limit"/> passed first.</summary>
    public static async Task<bool> WaitAsync(Backend backend, TimeSpan limit, TimeProvider time, CancellationToken ct)
    {
        var deadline = limit == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : time.GetUtcNow() + limit;
        while (!(backend.Writer.QueuedChunks == 0 && !backend.Writer.Sending && backend.Backlog.Reader.IsEmpty))
        {
            if (time.GetUtcNow() > deadline)
                return false;
            await Task.Delay(TimeSpan.FromMilliseconds(200), time, ct);
        }
        return true;
    }
}
