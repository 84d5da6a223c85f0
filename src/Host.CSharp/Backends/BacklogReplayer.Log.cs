namespace InfluxProxy.Host.Backends;

public sealed partial class BacklogReplayer
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Error, Message = "backend {Backend} refused a backlog record for db {Db} for good; dropped: {Reason}")]
    private partial void LogDropped(string backend, string db, string reason);

    [LoggerMessage(EventId = 201, Level = LogLevel.Warning, Message = "backend {Backend} did not take a backlog record for db {Db}: {Reason}; retrying later")]
    private partial void LogRetryLater(string backend, string db, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "replay of backend {Backend}'s backlog failed; retrying later")]
    private partial void LogReplayFailed(Exception error, string backend);
}
