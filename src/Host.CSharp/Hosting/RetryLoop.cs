namespace InfluxProxy.Host.Hosting;

/// <summary>What an attempt of a <see cref="RetryLoop"/> asks for next.</summary>
public enum Next
{
    /// <summary>Go again at once.</summary>
    Now,
    /// <summary>Go again after the interval, or sooner when woken.</summary>
    AfterIntervalOrWake,
    /// <summary>Go again after the whole interval; a wake meanwhile is kept for after it.</summary>
    AfterInterval,
    /// <summary>Stop looping.</summary>
    Done,
}

/// <summary>
/// The one way the proxy waits and tries again (backlog replay, journal replay and redelivery, health checks, journal
/// commits): an attempt runs and says what comes next, and the loop waits on the injected clock, so tests can drive
/// it, or until <see cref="Wake"/>. Stopping ends the wait at once; what was not done stays for the next start.
/// </summary>
public sealed class RetryLoop(TimeSpan interval, TimeProvider time)
{
    private TaskCompletionSource _wake = NewWake();

    public TimeSpan Interval => interval;

    /// <summary>Ends the current <see cref="Next.AfterIntervalOrWake"/> wait, or the next one at once.</summary>
    public void Wake() => Volatile.Read(ref _wake).TrySetResult();

    /// <summary>Runs <paramref name="attempt"/> until it says <see cref="Next.Done"/> or <paramref name="stopping"/> is cancelled.</summary>
    public async Task RunAsync(Func<CancellationToken, Task<Next>> attempt, CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            var next = await attempt(stopping);
            if (next == Next.Done)
                return;
            if (next != Next.Now)
                await WaitAsync(wakeable: next == Next.AfterIntervalOrWake, stopping);
        }
    }

    /// <summary>
    /// Until the interval passes (or a wake comes, when <paramref name="wakeable"/>) or stopping. It throws nothing,
    /// not even inside the framework: every replayer waits every interval, and an exception costs far more than a wait
    /// (the process's first one about 25 ms of CPU, loading the runtime's message resources).
    /// </summary>
    public async Task WaitAsync(bool wakeable, CancellationToken stopping)
    {
        var wake = Volatile.Read(ref _wake);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var delay = Task.Delay(interval, time, done.Token);
        await (wakeable ? Task.WhenAny(wake.Task, delay) : Task.WhenAny(delay));
        done.Cancel();
        // A wake after this point completes the new source, so the next wait returns at once.
        if (wake.Task.IsCompleted)
            Interlocked.CompareExchange(ref _wake, NewWake(), wake);
    }

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
