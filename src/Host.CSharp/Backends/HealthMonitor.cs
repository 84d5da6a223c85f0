using InfluxProxy.Core;
using InfluxProxy.Host.Hosting;

namespace InfluxProxy.Host.Backends;

/// <summary>Pings every backend each <c>check_interval</c>, in parallel, each ping bounded by <c>write_timeout</c>.</summary>
public sealed partial class HealthMonitor(IReadOnlyList<Backend> backends, RetryLoop loop, ILogger<HealthMonitor> logger) : IBackgroundWork
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    public void Start() => _loop = Task.Run(() => loop.RunAsync(CheckAllAsync, _stopping.Token));

    public async Task StopAsync()
    {
        await _stopping.CancelAsync();
        await _loop;
    }

    private async Task<Next> CheckAllAsync(CancellationToken stopping)
    {
        try
        {
            await Task.WhenAll(backends.Select(b => CheckAsync(b, stopping)));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return Next.Done; // stopping mid-ping
        }
        return Next.AfterInterval;
    }

    private async Task CheckAsync(Backend backend, CancellationToken ct)
    {
        var (state, problem) = await backend.Writes.PingAsync(ct);
        var (before, after) = backend.Health.Pinged(state, problem);
        if (before.Equals(after) || ct.IsCancellationRequested)
            return;
        LogStateChanged(backend.Info.Name, BackendStateModule.text(before), BackendStateModule.text(after));
        if (after.IsUp)
            backend.Replayer.Wake();
    }
}
