using InfluxProxy.Host.Hosting;

namespace InfluxProxy.Host.Backlog;

public sealed partial class FileBacklog
{
    [LoggerMessage(EventId = EventIds.BacklogOpened, Level = LogLevel.Information, Message = "backlog of {Backend} opened: {Records} records ({Bytes} bytes) to replay")]
    private static partial void LogRecovered(ILogger logger, string backend, long records, long bytes);

    [LoggerMessage(EventId = EventIds.BacklogRecovered, Level = LogLevel.Warning, Message = "backlog of {Backend} recovered: {Records} records ({Bytes} bytes) to replay; torn tail cut: {TornBytes} bytes; corrupt records skipped: {Corrupt}")]
    private static partial void LogRecoveredWithDamage(ILogger logger, string backend, long records, long bytes, long tornBytes, int corrupt);

    [LoggerMessage(EventId = EventIds.CorruptSkipped, Level = LogLevel.Error, Message = "backlog of {Backend}: skipped {Count} corrupt record(s) in segment {Segment} at offset {Offset} ({Bytes} bytes)")]
    private static partial void LogCorruptSkipped(ILogger logger, string backend, int count, long segment, long offset, long bytes);

    [LoggerMessage(EventId = EventIds.CommitUnreadable, Level = LogLevel.Error, Message = "backlog of {Backend}: commit file unreadable; replaying from the oldest segment (duplicates are harmless)")]
    private static partial void LogCommitUnreadable(ILogger logger, string backend);

    [LoggerMessage(EventId = EventIds.CommitRepaired, Level = LogLevel.Warning, Message = "backlog of {Backend}: the commit ({Committed}) points where there is no data; replay starts at {Start}")]
    private static partial void LogCommitRepaired(ILogger logger, string backend, string committed, string start);

    [LoggerMessage(EventId = EventIds.CutBackFailed, Level = LogLevel.Error, Message = "backlog of {Backend}: could not cut back a failed write ({Error}); appends fail until it can be")]
    private static partial void LogCutBackFailed(ILogger logger, string backend, string error);

    [LoggerMessage(EventId = EventIds.DamagedHeader, Level = LogLevel.Warning, Message = "backlog of {Backend}: segment {Segment} has a damaged header; its records are still read one by one")]
    private static partial void LogSegmentHeaderDamaged(ILogger logger, string backend, long segment);

    [LoggerMessage(EventId = EventIds.DeleteFailed, Level = LogLevel.Warning, Message = "backlog of {Backend}: consumed segment {Segment} could not be deleted ({Error}); retried after the next commit")]
    private static partial void LogDeleteFailed(ILogger logger, string backend, long segment, string error);

    [LoggerMessage(EventId = EventIds.WriterFailed, Level = LogLevel.Critical, Message = "backlog of {Backend}: unexpected failure in the writer; the appends of this group are reported as not stored")]
    private static partial void LogWriterFailed(ILogger logger, Exception exception, string backend);

    [LoggerMessage(EventId = EventIds.SegmentMissing, Level = LogLevel.Error, Message = "backlog of {Backend}: segment {Segment} disappeared (deleted by hand?); its records are lost, replay goes on with the next segment")]
    private static partial void LogSegmentMissing(ILogger logger, string backend, long segment);
}
