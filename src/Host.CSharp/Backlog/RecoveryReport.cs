namespace InfluxProxy.Host.Backlog;

/// <summary>
/// What opening the backlog found: bytes of a torn tail cut, corrupt records skipped, what waits, and whether the
/// commit file was unreadable or pointed where no data is (then replay starts at the nearest valid place).
/// </summary>
public sealed record RecoveryReport(long TornBytesCut, int CorruptRecordsSkipped, long RecordsPending, long BytesPending, bool CommitRepaired = false);
