namespace InfluxProxy.Host.Backlog;

/// <param name="MaxBytes">
/// Cap on the bytes waiting to be replayed (records appended and not yet committed, headers included); 0 = unbounded.
/// An append that would exceed it answers <see cref="AppendOutcome.Full"/> and writes nothing. Disk use can exceed
/// the cap by the consumed part of the oldest segment (at most <paramref name="SegmentBytes"/>), deleted once consumed.
/// </param>
/// <param name="SegmentBytes">Size at which a new segment file is started (a record never spans two files).</param>
/// <param name="FaultInjector">
/// Tests only (after SimulatedFlakyDevice in FasterLog): called before each write the backlog makes, with the step,
/// the file and the bytes about to be written; it may write part of them and throw an <see cref="IOException"/>,
/// as a full disk does.
/// </param>
public sealed record BacklogOptions(
    long MaxBytes = 0,
    long SegmentBytes = 16 * 1024 * 1024,
    Action<BacklogIoStep, FileStream, ReadOnlyMemory<byte>>? FaultInjector = null);
