namespace InfluxProxy.Host.Migration;

/// <summary>Why a migration step could not be done, in words for the stats and the logs.</summary>
public sealed class StepFailure(string reason) : Exception(reason);
