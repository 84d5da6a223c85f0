using InfluxProxy.Host.Backlog;

namespace InfluxProxy.Host.Backends;

/// <summary>The parts that serve one backend; each has its own single responsibility and state.</summary>
public sealed record Backend(
    BackendInfo Info,
    BackendClient Client,
    BackendHealth Health,
    FileBacklog Backlog,
    QuarantineFolder Quarantine,
    BackendWriter Writer,
    BacklogReplayer Replayer);
