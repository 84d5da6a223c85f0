using InfluxProxy.Host.Hosting;

namespace InfluxProxy.Host.Backends;

public sealed partial class BackendWriter
{
    [LoggerMessage(EventId = EventIds.PartialWrite, Level = LogLevel.Warning, Message = "backend {Backend} refused part of {Lines} lines for db {Db}: {Reason}")]
    private partial void LogPartialWrite(string backend, string db, int lines, string reason);

    [LoggerMessage(EventId = EventIds.WriteFailed, Level = LogLevel.Warning, Message = "backend {Backend} did not take {Lines} lines for db {Db} ({Kind}: {Reason}); queued in its backlog")]
    private partial void LogWriteFailed(string backend, string db, int lines, string kind, string reason);

    [LoggerMessage(EventId = EventIds.BacklogRefused, Level = LogLevel.Error, Message = "{Lines} lines for backend {Backend}, db {Db} not accepted: {Reason}")]
    private partial void LogBacklogRefused(string backend, string db, int lines, string reason);

    [LoggerMessage(EventId = EventIds.FlushFailed, Level = LogLevel.Error, Message = "writer of backend {Backend} failed a batch for db {Db}")]
    private partial void LogFlushFailed(Exception error, string backend, string db);
}
