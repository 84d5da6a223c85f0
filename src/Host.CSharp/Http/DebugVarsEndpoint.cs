using System.Diagnostics;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Config;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>GET /debug/vars</c>: the Go proxy's expvar in .NET terms, a JSON snapshot of the process and of every
/// backend's write path. CPU traces and the heap are under <c>/debug/pprof</c> (<see cref="ProfilingEndpoints"/>).
/// </summary>
public static class DebugVarsEndpoint
{
    private sealed record BackendVars(
        string name, string state, long points_delivered, long points_backlogged, long partial_write_points,
        long backlog_bytes, long backlog_records, double? backlog_oldest_age_seconds, long backlog_replayed_records, long backlog_dropped_records, bool replaying,
        int writer_queued_chunks, bool writer_sending);

    private sealed record Vars(
        string version, string commit, double uptime_seconds, long working_set_bytes, long gc_heap_bytes,
        int gen0_collections, int gen1_collections, int gen2_collections, int threads, IReadOnlyList<BackendVars> backends);

    private static readonly DateTime Started = Process.GetCurrentProcess().StartTime.ToUniversalTime();

    public static Task Handle(HttpContext context, BackendRegistry backends, TimeProvider time)
    {
        var now = time.GetUtcNow();
        var process = Process.GetCurrentProcess();
        var vars = new Vars(
            BuildInfo.Version, BuildInfo.Commit, (DateTime.UtcNow - Started).TotalSeconds, process.WorkingSet64,
            GC.GetTotalMemory(forceFullCollection: false), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            process.Threads.Count,
            backends.Select(b => new BackendVars(
                b.Info.Name, Core.BackendStateModule.text(b.Health.State), b.Stats.DeliveredPoints,
                b.Stats.BackloggedPoints, b.Stats.RefusedBatchPoints, b.Backlog.Reader.PendingBytes,
                b.Backlog.Reader.PendingRecords, (now - b.Backlog.Reader.OldestPendingAt)?.TotalSeconds, b.Stats.ReplayedRecords, b.Stats.DroppedRecords, b.Replayer.Replaying,
                b.Writer.QueuedChunks, b.Writer.Sending)).ToList());
        return JsonBody.Write(context, StatusCodes.Status200OK, vars);
    }
}
