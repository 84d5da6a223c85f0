using InfluxProxy.Host.Backlog;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.Schema;

namespace InfluxProxy.Host.Backends;

/// <summary>The parts that serve one backend; each has its own single responsibility and state.</summary>
public sealed record Backend(
    BackendInfo Info,
    WriteClient Writes,
    QueryRelay Queries,
    SchemaQueries Schema,
    BackendHealth Health,
    BackendStats Stats,
    FileBacklog Backlog,
    QuarantineFolder Quarantine,
    BackendWriter Writer,
    BacklogReplayer Replayer);
