using System.Collections.Concurrent;
using InfluxProxy.Core;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Schema;

public enum Existence { Exists, Missing, Unknown }

/// <summary>
/// Which databases and retention policies the backends have, so /write can refuse a missing one as InfluxDB does
/// (rather than accept points no backend can ever store, which would wait in a backlog in front of every later write).
/// When some backend cannot answer we accept the write: its owner may have it, and the backlog keeps the points until
/// it can take them.
/// </summary>
public sealed class DatabaseCatalog
{
    private readonly IReadOnlyList<SchemaQueries> _backends;
    private readonly KnownNames _databases;
    private readonly KnownNames _retentionPolicies; // named "<db>\0<rp>"

    /// <param name="retentionFloors">Forgets a database's floors with the schema changes below.</param>
    public DatabaseCatalog(IReadOnlyList<SchemaQueries> backends, RetentionFloors retentionFloors, TimeProvider time)
    {
        _backends = backends;
        _databases = new KnownNames(time);
        _retentionPolicies = new KnownNames(time);
        RetentionFloors = retentionFloors;
    }

    private RetentionFloors RetentionFloors { get; }

    public ValueTask<Existence> CheckAsync(string db, CancellationToken ct) =>
        _databases.CheckAsync(db, () => Task.WhenAll(_backends.Select(b => b.DatabasesAsync(ct))));

    public ValueTask<Existence> CheckRetentionPolicyAsync(string db, string rp, CancellationToken ct) =>
        _retentionPolicies.CheckAsync(PolicyName(db, rp), async () =>
            (await Task.WhenAll(_backends.Select(b => b.RetentionPoliciesAsync(db, ct))))
            .Select(rps => rps.IsOk
                ? FSharpResult<IReadOnlyList<string>, string>.NewOk(rps.ResultValue.Select(p => PolicyName(db, p.Name)).ToList())
                : FSharpResult<IReadOnlyList<string>, string>.NewError(rps.ErrorValue))
            .ToArray());

    /// <summary>
    /// Keeps the catalog in step with a schema statement run through the proxy (<see cref="QueryRouting.schemaChange"/>):
    /// a database or policy created is written to at once, one dropped is asked about again (so writes to it are
    /// refused again).
    /// </summary>
    public void Apply(SchemaChange change)
    {
        switch (change)
        {
            case SchemaChange.DatabaseCreated created:
                _databases.Remember(created.db);
                break;
            case SchemaChange.DatabaseDropped dropped:
                _databases.Forget(dropped.db);
                _retentionPolicies.ForgetPrefix(PolicyName(dropped.db, ""));
                RetentionFloors.Forget(dropped.db);
                break;
            case SchemaChange.PolicyCreated created:
                // It may be the database's new default.
                _retentionPolicies.Remember(PolicyName(created.db, created.rp));
                RetentionFloors.Forget(created.db);
                break;
            case SchemaChange.PolicyDropped dropped:
                _retentionPolicies.Forget(PolicyName(dropped.db, dropped.rp));
                RetentionFloors.Forget(dropped.db);
                break;
        }
    }

    /// <summary>A policy's key in the caches: the database's name is its prefix.</summary>
    internal static string PolicyName(string db, string rp) => db + "\0" + rp;

    /// <summary>
    /// Names some backend has, cached; a miss asks every backend again (at most once per second per name), and only
    /// when every backend answered and none has the name is it missing.
    /// </summary>
    private sealed class KnownNames(TimeProvider time)
    {
        private static readonly TimeSpan MissRecheck = TimeSpan.FromSeconds(1);
        private readonly ConcurrentDictionary<string, bool> _known = new();
        private readonly ConcurrentDictionary<string, DateTimeOffset> _missingSince = new();

        /// <param name="askAll">Every backend's names, or why it could not answer.</param>
        public async ValueTask<Existence> CheckAsync(string name, Func<Task<FSharpResult<IReadOnlyList<string>, string>[]>> askAll)
        {
            if (_known.ContainsKey(name))
                return Existence.Exists;
            if (_missingSince.TryGetValue(name, out var since) && time.GetUtcNow() - since < MissRecheck)
                return Existence.Missing;
            var answers = await askAll();
            foreach (var known in answers.Where(a => a.IsOk).SelectMany(a => a.ResultValue))
                _known.TryAdd(known, true);
            if (_known.ContainsKey(name))
            {
                _missingSince.TryRemove(name, out _);
                return Existence.Exists;
            }
            if (answers.Any(a => a.IsError))
                return Existence.Unknown;
            if (_missingSince.Count > 10_000)
                _missingSince.Clear(); // names come from clients: keep the negative cache bounded
            _missingSince[name] = time.GetUtcNow();
            return Existence.Missing;
        }

        public void Forget(string name) => _known.TryRemove(name, out _);

        public void ForgetPrefix(string prefix)
        {
            foreach (var name in _known.Keys.Where(name => name.StartsWith(prefix, StringComparison.Ordinal)))
                _known.TryRemove(name, out _);
        }

        public void Remember(string name)
        {
            _known.TryAdd(name, true);
            _missingSince.TryRemove(name, out _);
        }
    }
}
