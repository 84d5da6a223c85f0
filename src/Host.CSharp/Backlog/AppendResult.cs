namespace InfluxProxy.Host.Backlog;

/// <summary>
/// An append's outcome, with the reason when it is not <see cref="AppendOutcome.Appended"/>; when it is, where the
/// record's payload starts (for <see cref="FileBacklog.ReadAsync"/>), where the record ends (its
/// <see cref="BacklogRecord.Next"/>) and its size on disk (for <see cref="LogReader.CommitThroughAsync"/>).
/// </summary>
public readonly record struct AppendResult(AppendOutcome Outcome, string? Error, BacklogPosition? Payload = null, BacklogPosition? End = null, int RecordBytes = 0)
{
    public static AppendResult Appended(BacklogPosition payload, BacklogPosition end, int recordBytes) =>
        new(AppendOutcome.Appended, null, payload, end, recordBytes);
}
