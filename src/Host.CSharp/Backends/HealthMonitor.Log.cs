namespace InfluxProxy.Host.Backends;

public sealed partial class HealthMonitor
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "backend {Backend}: {Before} -> {After}")]
    private partial void LogStateChanged(string backend, BackendState before, BackendState after);
}
