namespace InfluxProxy.Host.Backlog;

/// <summary>The writes a backlog makes, named for fault injection in tests.</summary>
public enum BacklogIoStep
{
    /// <summary>A record appended to the current segment.</summary>
    RecordWrite,
    /// <summary>The fsync that makes a group of appended records durable (no bytes).</summary>
    RecordFsync,
    /// <summary>The header of a new segment file.</summary>
    SegmentCreate,
    /// <summary>One slot of the commit file.</summary>
    CommitWrite,
}
