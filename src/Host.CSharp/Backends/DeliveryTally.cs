namespace InfluxProxy.Host.Backends;

/// <summary>
/// What one /write learns from every owner of its lines: counts the outstanding (chunk, owner) deliveries and keeps
/// the worst one, so the request wakes once, when the last owner has answered.
/// </summary>
public sealed class DeliveryTally
{
    private readonly TaskCompletionSource<Delivery> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _worstLock = new();
    private int _outstanding;
    private Delivery _worst = Delivery.Delivered;

    /// <summary>The worst delivery of all: Failed before PartialWrite before Backlogged before Delivered.</summary>
    public Task<Delivery> Outcome => _done.Task;

    /// <summary>Set once, before any chunk is submitted: the number of <see cref="Report"/> calls to wait for.</summary>
    public void Expect(int deliveries)
    {
        if (Interlocked.Add(ref _outstanding, deliveries) == 0)
            _done.TrySetResult(_worst);
    }

    public void Report(Delivery delivery)
    {
        lock (_worstLock)
            if (Severity(delivery.Kind) > Severity(_worst.Kind))
                _worst = delivery;
        if (Interlocked.Decrement(ref _outstanding) == 0)
            _done.TrySetResult(_worst);
    }

    private static int Severity(DeliveryKind kind) => kind switch
    {
        DeliveryKind.Failed => 3,
        DeliveryKind.PartialWrite => 2,
        DeliveryKind.Backlogged => 1,
        _ => 0,
    };
}
