using System.Collections.Concurrent;
using InfluxProxy.Core;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Schema;

/// <summary>
/// Where each (db, rp) starts refusing points as beyond retention (<see cref="Retention.refusalFloor"/>), from what
/// every backend keeps. An answer is reused for a while, but asked again before it refuses anything: a stale answer
/// only ever lets points through to their backends, which judge them themselves, and a point is refused only on what
/// the backends say now.
/// </summary>
public sealed class RetentionFloors(IReadOnlyList<SchemaQueries> backends, TimeProvider time)
{
    private static readonly TimeSpan Reuse = TimeSpan.FromSeconds(10);
    /// <summary>A backend slower than this is taken as unable to tell: nothing is refused, and the request goes on.</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(1);
    private readonly ConcurrentDictionary<string, (FSharpOption<RetentionState>[] Backends, DateTimeOffset At)> _answers = new();

    /// <summary>
    /// The floor for points of (db, rp) (rp empty: the database's default policy) at <paramref name="nowNs"/>;
    /// <see cref="long.MinValue"/> when none can be refused. Above <paramref name="oldest"/> unless the backends
    /// were asked for it now.
    /// </summary>
    public async Task<long> FloorAsync(string db, string rp, long nowNs, long oldest)
    {
        var key = DatabaseCatalog.PolicyName(db, rp);
        if (_answers.TryGetValue(key, out var known) && time.GetUtcNow() - known.At < Reuse
            && Retention.refusalFloor(nowNs, known.Backends) is var reused && oldest >= reused)
            return reused;
        var backends = await AskAllAsync(db, rp);
        if (_answers.Count > 10_000)
            _answers.Clear(); // names come from clients: keep the cache bounded
        _answers[key] = (backends, time.GetUtcNow());
        return Retention.refusalFloor(nowNs, backends);
    }

    /// <summary>A database or policy changed through the proxy: its next write asks again.</summary>
    public void Forget(string db)
    {
        var prefix = DatabaseCatalog.PolicyName(db, "");
        foreach (var key in _answers.Keys.Where(key => key.StartsWith(prefix, StringComparison.Ordinal)))
            _answers.TryRemove(key, out _);
    }

    private async Task<FSharpOption<RetentionState>[]> AskAllAsync(string db, string rp)
    {
        using var deadline = new CancellationTokenSource(AskTimeout, time);
        try
        {
            return await Task.WhenAll(backends.Select(b => AskAsync(b, db, rp, deadline.Token)));
        }
        catch (OperationCanceledException)
        {
            // Too slow: refuse nothing.
            return [FSharpOption<RetentionState>.None];
        }
    }

    private static async Task<FSharpOption<RetentionState>> AskAsync(SchemaQueries backend, string db, string rp, CancellationToken ct)
    {
        var policies = await backend.RetentionPoliciesAsync(db, ct);
        if (!policies.IsOk || policies.ResultValue.FirstOrDefault(p => rp.Length == 0 ? p.Default : p.Name == rp) is not { } policy)
            return FSharpOption<RetentionState>.None;
        var groups = await backend.ShardGroupsAsync(db, policy.Name, ct);
        return groups.IsOk ? FSharpOption<RetentionState>.Some(new RetentionState(policy, ListModule.OfSeq(groups.ResultValue))) : FSharpOption<RetentionState>.None;
    }
}
