using InfluxProxy.Core;

namespace InfluxProxy.Host.Write;

/// <summary>
/// What one /write learns from every owner of its lines: counts the outstanding (chunk, owner) deliveries and keeps
/// the worst one (<see cref="DeliveryModule.worse"/>), so the request wakes once, when the last owner has answered.
/// </summary>
public sealed class DeliveryTally
{
    private readonly TaskCompletionSource<Delivery> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _worstLock = new();
    private int _outstanding;
    private Delivery _worst = Delivery.Delivered;
    private Action<Delivery>? _whenDone;

    /// <summary>The worst delivery of all.</summary>
    public Task<Delivery> Outcome => _done.Task;

    /// <summary>
    /// Before <see cref="Expect"/>: runs <paramref name="action"/> with the outcome on the thread of the last report,
    /// before anything awaiting <see cref="Outcome"/> runs.
    /// </summary>
    public void WhenDone(Action<Delivery> action) => _whenDone = action;

    /// <summary>Set once, before any chunk is submitted: the number of <see cref="Report"/> calls to wait for.</summary>
    public void Expect(int deliveries)
    {
        if (Interlocked.Add(ref _outstanding, deliveries) == 0)
            Finish();
    }

    public void Report(Delivery delivery)
    {
        lock (_worstLock)
            _worst = DeliveryModule.worse(_worst, delivery);
        if (Interlocked.Decrement(ref _outstanding) == 0)
            Finish();
    }

    private void Finish()
    {
        _whenDone?.Invoke(_worst);
        _done.TrySetResult(_worst);
    }
}
