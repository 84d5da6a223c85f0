using System.Collections.Concurrent;

namespace InfluxProxy.Host.Backends;

public enum DatabaseExistence { Exists, Missing, Unknown }

/// <summary>
/// Which databases the backends have, so /write can answer 404 <c>database not found</c> as InfluxDB does.
/// Known databases are cached; a miss asks every backend again (at most once per second per name), and only when
/// every backend answered and none has it is the database missing. When some backend cannot answer we accept the
/// write: its owner may have the database, and the backlog keeps the points until it can take them.
/// </summary>
public sealed class DatabaseCatalog
{
    private static readonly TimeSpan MissRecheck = TimeSpan.FromSeconds(1);
    private readonly IReadOnlyList<BackendClient> _clients;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, bool> _known = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _missingSince = new();

    public DatabaseCatalog(IReadOnlyList<BackendClient> clients, TimeProvider time)
    {
        _clients = clients;
        _time = time;
    }

    public async ValueTask<DatabaseExistence> CheckAsync(string db, CancellationToken ct)
    {
        if (_known.ContainsKey(db))
            return DatabaseExistence.Exists;
        if (_missingSince.TryGetValue(db, out var since) && _time.GetUtcNow() - since < MissRecheck)
            return DatabaseExistence.Missing;
        var answers = await Task.WhenAll(_clients.Select(c => c.ShowDatabasesAsync(ct)));
        foreach (var name in answers.OfType<IReadOnlyList<string>>().SelectMany(n => n))
            _known.TryAdd(name, true);
        if (_known.ContainsKey(db))
        {
            _missingSince.TryRemove(db, out _);
            return DatabaseExistence.Exists;
        }
        if (answers.Any(a => a is null))
            return DatabaseExistence.Unknown;
        if (_missingSince.Count > 10_000)
            _missingSince.Clear(); // names come from clients: keep the negative cache bounded
        _missingSince[db] = _time.GetUtcNow();
        return DatabaseExistence.Missing;
    }

    /// <summary>Forget a database dropped through the proxy, so writes to it get 404 again.</summary>
    public void Forget(string db) => _known.TryRemove(db, out _);

    /// <summary>Remember a database created through the proxy, so a write right after it is not told 404.</summary>
    public void Remember(string db)
    {
        _known.TryAdd(db, true);
        _missingSince.TryRemove(db, out _);
    }
}
