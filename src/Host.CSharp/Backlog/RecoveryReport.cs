namespace InfluxProxy.Host.Backlog;

/// <summary>
/// What opening the backlog found: bytes of a torn tail cut, corrupt records stepped over (counted once however many
/// readers met them), and whether a reader's commit file was unreadable or pointed where no data is (then that reader
/// starts at the nearest valid place).
/// </summary>
public sealed record RecoveryReport(long TornBytesCut, int CorruptRecordsSkipped, bool CommitRepaired);
