namespace InfluxProxy.Host.Backlog;

/// <summary>
/// An append's outcome, with the reason when it is not <see cref="AppendOutcome.Appended"/>, and where the record's
/// payload starts when it is (for <see cref="FileBacklog.ReadAsync"/>).
/// </summary>
public readonly record struct AppendResult(AppendOutcome Outcome, string? Error, BacklogPosition? Payload = null)
{
    public static AppendResult Appended(BacklogPosition payload) => new(AppendOutcome.Appended, null, payload);
}
