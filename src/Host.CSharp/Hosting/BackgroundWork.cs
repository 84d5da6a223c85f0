namespace InfluxProxy.Host.Hosting;

/// <summary>
/// Starts the proxy's background work in the order given, once the server is built, and stops it in the reverse
/// order once the server has stopped taking requests (ASP.NET Core stops the server before the hosted services
/// registered after it). The order is the composition root's (<c>ProxyServer</c>), in one list, with its reasons.
/// </summary>
public sealed partial class BackgroundWork(IReadOnlyList<IBackgroundWork> inOrder, ILogger<BackgroundWork> logger) : IHostedService
{
    public Task StartAsync(CancellationToken ct)
    {
        foreach (var work in inOrder)
            work.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken ct)
    {
        foreach (var work in inOrder.Reverse())
        {
            try
            {
                await work.StopAsync();
            }
            catch (Exception e)
            {
                // One part failing to stop cleanly must not keep the others from draining and closing.
                LogStopFailed(e, work.GetType().Name);
            }
        }
        LogStopped(inOrder.Count);
    }

    [LoggerMessage(EventId = EventIds.StopFailed, Level = LogLevel.Error, Message = "background work {Part} did not stop cleanly; stopping the rest")]
    private partial void LogStopFailed(Exception error, string part);

    [LoggerMessage(EventId = EventIds.Stopped, Level = LogLevel.Information, Message = "background work stopped in order: {Parts} parts, every writer drained, journal and backlogs closed")]
    private partial void LogStopped(int parts);
}
