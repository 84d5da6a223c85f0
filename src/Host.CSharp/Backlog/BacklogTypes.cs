namespace InfluxProxy.Host.Backlog;

/// <summary>A place in the log: a segment and a byte offset in it.</summary>
public sealed record Position(long Segment, long Offset);

/// <param name="MaxBytes">Cap on the bytes waiting; 0 = unbounded. When reached, appends answer Full.</param>
/// <param name="SegmentBytes">Size at which a new segment file is started.</param>
/// <param name="FaultInjector">Tests only: runs before each record is written and may throw an IOException after writing part of it.</param>
public sealed record BacklogOptions(long MaxBytes = 0, long SegmentBytes = 16 * 1024 * 1024, Action<Stream, byte[]>? FaultInjector = null);

/// <summary>One batch waiting for its backend: where it is, where the next one starts, and what to send.</summary>
public sealed record BacklogRecord(Position Position, Position Next, string Db, string Rp, ReadOnlyMemory<byte> Payload, DateTimeOffset AppendedAt, int BodyLength);

public enum AppendOutcome { Appended, Full, IoError }

public readonly record struct AppendResult(AppendOutcome Outcome, string? Error);

/// <summary>What opening the backlog found: bytes of a torn tail cut, corrupt records skipped, what waits.</summary>
public sealed record RecoveryReport(long TornBytesCut, int CorruptRecordsSkipped, long RecordsPending, long BytesPending);
