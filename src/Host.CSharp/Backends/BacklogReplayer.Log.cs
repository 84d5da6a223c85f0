using InfluxProxy.Host.Hosting;

namespace InfluxProxy.Host.Backends;

public sealed partial class BacklogReplayer
{
    [LoggerMessage(EventId = EventIds.ReplayDropped, Level = LogLevel.Error, Message = "backend {Backend} refused a backlog record for db {Db} for good; dropped: {Reason}")]
    private partial void LogDropped(string backend, string db, string reason);

    [LoggerMessage(EventId = EventIds.ReplayRetryLater, Level = LogLevel.Warning, Message = "backend {Backend} did not take a backlog record for db {Db}: {Reason}; retrying later")]
    private partial void LogRetryLater(string backend, string db, string reason);

    [LoggerMessage(EventId = EventIds.ReplayFailed, Level = LogLevel.Error, Message = "replay of backend {Backend}'s backlog failed; retrying later")]
    private partial void LogReplayFailed(Exception error, string backend);

    [LoggerMessage(EventId = EventIds.ReplayWentAway, Level = LogLevel.Warning, Message = "backend {Backend} went away while taking a backlog record for db {Db} ({Reason})")]
    private partial void LogWentAway(string backend, string db, string reason);

    [LoggerMessage(EventId = EventIds.ReplaySendingBehind, Level = LogLevel.Warning, Message = "backend {Backend} keeps refusing a backlog record for db {Db}; sending the record behind it first")]
    private partial void LogSendingBehind(string backend, string db);

    [LoggerMessage(EventId = EventIds.Quarantined, Level = LogLevel.Error, Message = "backend {Backend}: a backlog record for db {Db}, rp {Rp} is quarantined in {Path}, and the records behind it follow: {Reason}")]
    private partial void LogQuarantined(string backend, string db, string rp, string path, string reason);
}
