using InfluxProxy.Host.Backends;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>GET /health[?pretty=true][&amp;stats=false]</c>: per circle, per backend, the original's fields (active, backlog,
/// load, name, rewrite, url; v2.5.12's write_only; keys sorted) plus the backlog's size, the records in its quarantine folder, the
/// backend's state and, unless it is up, why its last ping failed (<c>problem</c>). Backends are asked in parallel,
/// each within <c>write_timeout</c>; a dead one shows <c>active: false</c> and an empty load.
/// </summary>
public static class HealthEndpoint
{
    private sealed record Load(int incorrect, int inplace, int measurements);

    private sealed record BackendHealthView(
        bool active, bool backlog, long backlog_bytes, long backlog_records, SortedDictionary<string, Load> load,
        string name, string problem, int quarantined_records, bool rewrite, string state, string url, bool write_only);

    private sealed record CircleHealthView(IReadOnlyList<BackendHealthView> backends, string circle);

    public static async Task Handle(HttpContext context, Cluster cluster, BackendRegistry backends, TimeSpan writeTimeout)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        timeout.CancelAfter(writeTimeout);
        // stats=false skips the per-database load (a cheap liveness view); by default it is computed, as in v2.4.7.
        var withLoad = context.Request.Query["stats"] != "false";
        var views = await Task.WhenAll(backends.Select(b => ViewAsync(b, cluster, withLoad, timeout.Token)));
        var circles = cluster.Circles
            .Select(c => new CircleHealthView(c.Backends.Select(b => views[b.Id]).ToList(), c.Name))
            .ToList();
        await JsonBody.Write(context, StatusCodes.Status200OK, circles);
    }

    private static async Task<BackendHealthView> ViewAsync(Backend backend, Cluster cluster, bool withLoad, CancellationToken ct)
    {
        var backlog = backend.Backlog.Reader;
        SortedDictionary<string, Load> load;
        try
        {
            load = withLoad ? await LoadAsync(backend, cluster, ct) : [];
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            load = []; // slower than write_timeout: shown as unknown, like an unreachable backend
        }
        return new BackendHealthView(
            active: backend.Health.State.IsUp,
            backlog: !backlog.IsEmpty,
            backlog_bytes: backlog.PendingBytes,
            backlog_records: backlog.PendingRecords,
            load: load,
            name: backend.Info.Name,
            problem: backend.Health.State.IsUp ? "" : backend.Health.Problem,
            quarantined_records: backend.Quarantine.Count,
            rewrite: backend.Replayer.Replaying,
            state: Core.BackendStateModule.text(backend.Health.State),
            url: backend.Info.Url.OriginalString.TrimEnd('/'),
            write_only: backend.Info.WriteOnly);
    }

    /// <summary>Per database (but _internal): how many measurements this backend holds, and how many it owns.</summary>
    private static async Task<SortedDictionary<string, Load>> LoadAsync(Backend backend, Cluster cluster, CancellationToken ct)
    {
        var load = new SortedDictionary<string, Load>(StringComparer.Ordinal);
        if (!backend.Health.State.IsUp || await backend.Schema.DatabasesAsync(ct) is not { IsOk: true } databases)
            return load;
        foreach (var db in databases.ResultValue.Where(d => d != "_internal"))
        {
            var answer = await backend.Schema.MeasurementsAsync(db, ct);
            if (!answer.IsOk)
                continue;
            var measurements = answer.ResultValue;
            var inplace = measurements.Count(m => cluster.Owners(db, m)[backend.Info.Circle].Id == backend.Info.Id);
            load[db] = new Load(measurements.Count - inplace, inplace, measurements.Count);
        }
        return load;
    }
}
