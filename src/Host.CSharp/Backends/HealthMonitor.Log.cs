using InfluxProxy.Host.Hosting;

namespace InfluxProxy.Host.Backends;

public sealed partial class HealthMonitor
{
    [LoggerMessage(EventId = EventIds.StateChanged, Level = LogLevel.Information, Message = "backend {Backend}: {Before} -> {After}")]
    private partial void LogStateChanged(string backend, string before, string after);
}
