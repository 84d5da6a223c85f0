namespace InfluxProxy.Host.Backends;

/// <summary>Pings every backend each <c>check_interval</c> (in parallel, each bounded by <c>write_timeout</c>).</summary>
public sealed partial class HealthMonitor
{
    private readonly IReadOnlyList<Backend> _backends;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public HealthMonitor(IReadOnlyList<Backend> backends, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        _backends = backends;
        _interval = interval;
        _time = time;
        _logger = logger;
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(_interval, _time);
        do
        {
            await Task.WhenAll(_backends.Select(b => CheckAsync(b, stopping)));
        }
        while (await Ticks(timer, stopping));
    }

    private async Task CheckAsync(Backend backend, CancellationToken ct)
    {
        var before = backend.Health.State;
        var state = await backend.Client.PingAsync(ct);
        backend.Health.Set(state);
        if (state == before)
            return;
        LogStateChanged(backend.Info.Name, before, state);
        if (state == BackendState.Up)
            backend.Replayer.Wake();
    }

    private static async Task<bool> Ticks(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "backend {Backend}: {Before} -> {After}")]
    private partial void LogStateChanged(string backend, BackendState before, BackendState after);
}
