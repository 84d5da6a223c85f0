namespace InfluxProxy.Host.Backlog;

public sealed partial class FileBacklog
{
    [LoggerMessage(EventId = 500, Level = LogLevel.Warning, Message = "backlog of {Backend} opened: {Records} records ({Bytes} bytes) to replay; torn tail cut: {TornBytes} bytes; corrupt records skipped: {Corrupt}")]
    private static partial void LogRecovered(ILogger logger, string backend, long records, long bytes, long tornBytes, long corrupt);

    [LoggerMessage(EventId = 501, Level = LogLevel.Error, Message = "backlog {Dir}: skipped {Count} corrupt record(s) in segment {Segment} at offset {Offset}")]
    private static partial void LogCorruptSkipped(ILogger logger, string dir, int count, long segment, long offset);

    [LoggerMessage(EventId = 502, Level = LogLevel.Error, Message = "backlog of {Backend}: commit file unreadable; replaying from the oldest segment (duplicates are harmless)")]
    private static partial void LogCommitUnreadable(ILogger logger, string backend);

    [LoggerMessage(EventId = 503, Level = LogLevel.Error, Message = "backlog {Dir}: could not cut back a failed write ({Error}); it is cut as a torn tail at the next start")]
    private static partial void LogCutBackFailed(ILogger logger, string dir, string error);
}
