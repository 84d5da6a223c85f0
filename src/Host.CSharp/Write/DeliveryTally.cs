using InfluxProxy.Core;

namespace InfluxProxy.Host.Write;

/// <summary>
/// What one /write learns from every owner of its lines: counts the outstanding (chunk, owner) deliveries and keeps
/// the worst one (<see cref="DeliveryModule.worse"/>), so the request wakes once, when the last owner has answered.
/// For a consistency level it also counts, per circle, the chunks its owners still owe and whether one of them could
/// not store its chunk, and wakes the request as soon as the level is met or cannot be.
/// </summary>
public sealed class DeliveryTally
{
    private readonly TaskCompletionSource<Delivery> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _circlesDecided = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _worstLock = new();
    private int _outstanding;
    private Delivery _worst = Delivery.Delivered;
    private Action<Delivery>? _whenDone;
    private ConsistencyLevel _level = ConsistencyLevel.Any;
    private int[] _owedByCircle = []; // guarded by _worstLock, as are the two below
    private bool[] _missedByCircle = [];
    private CircleCount _circles = new(0, 0, 0);

    /// <summary>The worst delivery of all.</summary>
    public Task<Delivery> Outcome => _done.Task;

    /// <summary>Completes once the consistency level given to <see cref="CountCircles"/> is met or cannot be.</summary>
    public Task CirclesDecided => _circlesDecided.Task;

    /// <summary>The worst delivery reported so far.</summary>
    public Delivery WorstSoFar
    {
        get
        {
            lock (_worstLock)
                return _worst;
        }
    }

    /// <summary>Where the circles stand now.</summary>
    public CircleCount Circles
    {
        get
        {
            lock (_worstLock)
                return _circles;
        }
    }

    /// <summary>
    /// Before <see cref="Expect"/>: runs <paramref name="action"/> with the outcome on the thread of the last report,
    /// before anything awaiting <see cref="Outcome"/> runs.
    /// </summary>
    public void WhenDone(Action<Delivery> action) => _whenDone = action;

    /// <summary>Before <see cref="Expect"/>: every circle's owners will report <paramref name="chunks"/> chunks.</summary>
    public void CountCircles(ConsistencyLevel level, int circles, int chunks)
    {
        lock (_worstLock)
        {
            _level = level;
            _owedByCircle = Enumerable.Repeat(chunks, circles).ToArray();
            _missedByCircle = new bool[circles];
            _circles = new CircleCount(circles, chunks == 0 ? circles : 0, 0);
            DecideCircles();
        }
    }

    /// <summary>Set once, before any chunk is submitted: the number of <see cref="Report"/> calls to wait for.</summary>
    public void Expect(int deliveries)
    {
        if (Interlocked.Add(ref _outstanding, deliveries) == 0)
            Finish();
    }

    /// <summary>What the owner in <paramref name="circle"/> did with one chunk.</summary>
    public void Report(Delivery delivery, int circle)
    {
        lock (_worstLock)
        {
            _worst = DeliveryModule.worse(_worst, delivery);
            if (circle < _owedByCircle.Length)
                CountInCircle(delivery, circle);
        }
        if (Interlocked.Decrement(ref _outstanding) == 0)
            Finish();
    }

    private void CountInCircle(Delivery delivery, int circle)
    {
        var missedBefore = _missedByCircle[circle];
        _missedByCircle[circle] |= !ConsistencyLevelModule.stores(delivery);
        var owed = --_owedByCircle[circle];
        if (_missedByCircle[circle] && !missedBefore)
            _circles = new CircleCount(_circles.Circles, _circles.Stored, _circles.Missed + 1);
        else if (owed == 0 && !_missedByCircle[circle])
            _circles = new CircleCount(_circles.Circles, _circles.Stored + 1, _circles.Missed);
        DecideCircles();
    }

    private void DecideCircles()
    {
        if (!ConsistencyLevelModule.judge(_level, _circles).IsWaiting)
            _circlesDecided.TrySetResult();
    }

    private void Finish()
    {
        _whenDone?.Invoke(_worst);
        _done.TrySetResult(_worst);
        _circlesDecided.TrySetResult();
    }
}
