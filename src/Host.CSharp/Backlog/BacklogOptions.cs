namespace InfluxProxy.Host.Backlog;

/// <param name="MaxBytes">
/// Cap on the bytes waiting to be read by the slowest reader (records appended and not yet committed, headers
/// included); 0 = unbounded. An append that would exceed it answers <see cref="AppendOutcome.Full"/> and writes
/// nothing. Disk use can exceed the cap by the consumed part of the oldest segment (at most
/// <paramref name="SegmentBytes"/>), deleted once every reader has passed it.
/// </param>
/// <param name="SegmentBytes">Size at which a new segment file is started (a record never spans two files).</param>
/// <param name="FaultInjector">
/// Tests only (after SimulatedFlakyDevice in FasterLog): called before each write the backlog makes, with the step,
/// the file and the bytes about to be written; it may write part of them and throw an <see cref="IOException"/>,
/// as a full disk does.
/// </param>
/// <param name="Readers">
/// The log's named readers, each with its own committed position; the first one's is kept in the file
/// <c>commit</c>, the others' in <c>commit.&lt;name&gt;</c>. Null: one reader, <see cref="DefaultReader"/>.
/// </param>
public sealed record BacklogOptions(
    long MaxBytes = 0,
    long SegmentBytes = 16 * 1024 * 1024,
    Action<BacklogIoStep, FileStream, ReadOnlyMemory<byte>>? FaultInjector = null,
    IReadOnlyList<string>? Readers = null)
{
    public const string DefaultReader = "replay";

    public IReadOnlyList<string> ReaderNames => Readers is { Count: > 0 } names ? names : [DefaultReader];
}
