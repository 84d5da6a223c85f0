namespace InfluxProxy.Host.Backlog;

/// <summary>
/// One batch waiting for its backend: where it is, what to send, when it was appended; <paramref name="Next"/> is where
/// the record after it starts and <paramref name="RecordBytes"/> its size on disk (header included).
/// </summary>
public sealed record BacklogRecord(
    BacklogPosition Position, string Db, string Rp, ReadOnlyMemory<byte> Payload, DateTimeOffset AppendedAt,
    BacklogPosition Next, int RecordBytes);
