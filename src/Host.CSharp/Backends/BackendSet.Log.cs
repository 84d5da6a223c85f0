namespace InfluxProxy.Host.Backends;

public sealed partial class BackendSet
{
    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "write path stopped: {Count} backends drained, backlogs closed")]
    private partial void LogStopped(int count);
}
