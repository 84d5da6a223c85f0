namespace InfluxProxy.Host.Backlog;

/// <summary>An append's outcome, with the reason when it is not <see cref="AppendOutcome.Appended"/>.</summary>
public readonly record struct AppendResult(AppendOutcome Outcome, string? Error)
{
    public static readonly AppendResult Appended = new(AppendOutcome.Appended, null);
}
