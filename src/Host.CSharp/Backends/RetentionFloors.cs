using System.Collections.Concurrent;
using InfluxProxy.Core;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// Where each (db, rp) starts refusing points as beyond retention (<see cref="Retention.refusalFloor"/>), from every
/// backend's policies. An answer is reused for a while, but asked again before it refuses anything: a stale answer
/// only ever lets points through to their backends, which judge them themselves, and a point is refused only on what
/// the backends say now.
/// </summary>
public sealed class RetentionFloors(IReadOnlyList<BackendClient> clients, TimeProvider time)
{
    private static readonly TimeSpan Reuse = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, (FSharpOption<RetentionPolicy>[] Policies, DateTimeOffset At)> _answers = new();

    /// <summary>
    /// The floor for points of (db, rp) (rp empty: the database's default policy) at <paramref name="nowNs"/>;
    /// <see cref="long.MinValue"/> when none can be refused. Above <paramref name="oldest"/> unless the backends
    /// were asked for it now.
    /// </summary>
    public async Task<long> FloorAsync(string db, string rp, long nowNs, long oldest, CancellationToken ct)
    {
        var key = db + "\0" + rp;
        if (_answers.TryGetValue(key, out var known) && time.GetUtcNow() - known.At < Reuse
            && Retention.refusalFloor(nowNs, known.Policies) is var reused && oldest >= reused)
            return reused;
        var policies = (await Task.WhenAll(clients.Select(c => c.RetentionPoliciesAsync(db, ct))))
            .Select(rps => rps?.FirstOrDefault(p => rp.Length == 0 ? p.Default : p.Name == rp) is { } policy
                ? FSharpOption<RetentionPolicy>.Some(policy)
                : FSharpOption<RetentionPolicy>.None)
            .ToArray();
        if (_answers.Count > 10_000)
            _answers.Clear(); // names come from clients: keep the cache bounded
        _answers[key] = (policies, time.GetUtcNow());
        return Retention.refusalFloor(nowNs, policies);
    }
}
