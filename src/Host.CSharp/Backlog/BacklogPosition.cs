namespace InfluxProxy.Host.Backlog;

/// <summary>A place in the log: a segment number and a byte offset in that segment file. Ordered by (segment, offset).</summary>
public sealed record BacklogPosition(long Segment, long Offset) : IComparable<BacklogPosition>
{
    public int CompareTo(BacklogPosition? other) =>
        other is null ? 1 : Segment != other.Segment ? Segment.CompareTo(other.Segment) : Offset.CompareTo(other.Offset);

    public override string ToString() => $"{Segment}:{Offset}";
}
