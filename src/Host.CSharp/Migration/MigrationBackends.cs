using System.Collections.Concurrent;
using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Query;
using InfluxProxy.Host.Schema;
using Microsoft.FSharp.Collections;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// How a migration asks its members: over clients of its own, without the write timeout (a count or a copy's
/// answer streams for as long as it takes), a backend a rebalance removes with the credentials its request gave and
/// its certificate checked as the global settings say.
/// </summary>
public sealed class MigrationBackends(Cluster cluster, BackendClients http)
{
    private readonly ConcurrentDictionary<int, SchemaQueries> _schemas = new();
    private readonly ConcurrentDictionary<int, BackendInfo> _removed = new();

    /// <summary>The current ring's members, then the backends a rebalance removes from <paramref name="circle"/>.</summary>
    public IReadOnlyList<MigrationMember> Members(IEnumerable<RemovedBackend> removed, int circle)
    {
        var members = cluster.Backends.Select(b => new MigrationMember(b.Id, b.Circle, b.Name, Url(b.Url))).ToList();
        foreach (var r in removed)
        {
            var id = members.Count;
            _removed[id] = new BackendInfo(id, circle, -1, r.Name, new Uri(r.Url), r.Username, r.Password, r.TlsInsecureSkipVerify);
            members.Add(new MigrationMember(id, circle, r.Name, r.Url));
        }
        return members;
    }

    /// <summary>The current ring over <paramref name="members"/>.</summary>
    public MigrationCluster Ring(IReadOnlyList<MigrationMember> members) =>
        new(cluster.Placement, ListModule.OfSeq(cluster.Circles.Select(c => ListModule.OfSeq(c.Backends.Select(b => members[b.Id])))));

    public SchemaQueries Schema(MigrationMember member) => _schemas.GetOrAdd(member.Id, id => new SchemaQueries(RelayOf(id)));

    public QueryRelay Relay(MigrationMember member) => Schema(member).Relay;

    public static string Url(Uri url) => url.OriginalString.TrimEnd('/');

    private QueryRelay RelayOf(int id)
    {
        var backend = id < cluster.Backends.Count ? cluster.Backends[id] : _removed[id];
        return new(new BackendConnection(backend, http.For(backend)));
    }
}
