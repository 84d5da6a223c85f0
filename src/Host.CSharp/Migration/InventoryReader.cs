using System.Text.Json;
using InfluxProxy.Core;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// What the members a job reads from hold (<see cref="Inventory"/>): their databases (but <c>_internal</c>), each
/// database's measurements by retention policy, and their shard groups. It reads the index, not the data: a
/// database whose points are all in one retention policy lists its measurements (SHOW MEASUREMENTS), and only one
/// with points in several counts each policy's (every point read). Points are then counted for the holdings a plan
/// copies (<see cref="CountAsync"/>). A member that cannot be read fails the plan: a plan made without it would
/// leave its data where it is, unsaid.
/// </summary>
public static class InventoryReader
{
    public static async Task<Inventory> ReadAsync(MigrationBackends backends, IEnumerable<MigrationMember> members, FSharpList<string> dbs,
        FSharpSet<Tuple<string, string, string, string, string>> copied, CancellationToken ct)
    {
        var read = await Task.WhenAll(members.Select(m => ReadMemberAsync(backends, m, dbs, ct)));
        return new Inventory(
            ListModule.OfSeq(read.SelectMany(r => r.Holdings)),
            MapModule.OfSeq(read.SelectMany(r => r.Groups)),
            copied);
    }

    /// <summary>The inventory with the points of <paramref name="holdings"/> counted, <paramref name="parallel"/> at once.</summary>
    public static async Task<Inventory> CountAsync(MigrationBackends backends, IReadOnlyList<MigrationMember> members, Inventory inventory,
        IReadOnlyCollection<Holding> holdings, int parallel, CancellationToken ct)
    {
        using var slots = new SemaphoreSlim(parallel);
        var counted = await Task.WhenAll(holdings.Select(async h =>
        {
            await slots.WaitAsync(ct);
            try
            {
                var statement = MigrationQueries.pointCount(h.Rp, h.Measurement);
                var points = 0L;
                await foreach (var series in ChunkedAnswer.SeriesAsync(backends.Relay(members[h.Backend]), h.Db, statement, 10_000, ct))
                    points = Math.Max(points, MostCounted(series));
                return (Holding: h, Points: points);
            }
            finally
            {
                slots.Release();
            }
        }));
        var byKey = counted.ToDictionary(c => c.Holding, c => c.Points);
        return new Inventory(
            ListModule.OfSeq(inventory.Holdings.Select(h => byKey.TryGetValue(h, out var points)
                ? new Holding(h.Backend, h.Db, h.Rp, h.Measurement, FSharpOption<long>.Some(points)) : h)),
            inventory.ShardGroups, inventory.Copied);
    }

    private static async Task<(List<Holding> Holdings, List<Tuple<Tuple<int, string, string>, FSharpList<Tuple<long, long>>>> Groups)> ReadMemberAsync(
        MigrationBackends backends, MigrationMember member, FSharpList<string> wanted, CancellationToken ct)
    {
        var schema = backends.Schema(member);
        var dbs = Ok(await schema.DatabasesAsync(ct), member).Where(db => db != "_internal" && (wanted.IsEmpty || wanted.Contains(db))).ToList();
        var shardGroups = Ok(await schema.ShardGroupsAsync(ct), member).Where(g => dbs.Contains(g.Db)).ToList();
        var holdings = new List<Holding>();
        foreach (var db in dbs)
        {
            // A policy without shard groups holds no points.
            var policies = shardGroups.Where(g => g.Db == db).Select(g => g.Rp).Distinct().ToList();
            if (policies.Count == 1)
                await foreach (var series in ChunkedAnswer.SeriesAsync(schema.Relay, db, "SHOW MEASUREMENTS", 10_000, ct))
                    foreach (var row in ChunkedAnswer.Rows(series))
                        holdings.Add(new Holding(member.Id, db, policies[0], row[0].GetString()!, FSharpOption<long>.None));
            else
                foreach (var rp in policies)
                    await foreach (var series in ChunkedAnswer.SeriesAsync(schema.Relay, db, MigrationQueries.measurementCounts(rp), 10_000, ct))
                        holdings.Add(new Holding(member.Id, db, rp, series.GetProperty("name").GetString()!, FSharpOption<long>.Some(MostCounted(series))));
        }
        var groups = shardGroups
            .GroupBy(g => (g.Db, g.Rp))
            .Select(g => Tuple.Create(Tuple.Create(member.Id, g.Key.Db, g.Key.Rp), ListModule.OfSeq(g.Select(x => Tuple.Create(x.Span.Start, x.Span.End)))))
            .ToList();
        return (holdings, groups);
    }

    /// <summary>The most points any field has: every point has at least one field, so a lower bound of its points.</summary>
    private static long MostCounted(JsonElement series) =>
        ChunkedAnswer.Rows(series).SelectMany(row => row.EnumerateArray().Skip(1)).Where(v => v.ValueKind == JsonValueKind.Number).Select(v => v.GetInt64())
            .DefaultIfEmpty(0).Max();

    private static IReadOnlyList<T> Ok<T>(FSharpResult<IReadOnlyList<T>, string> result, MigrationMember member) =>
        result.IsOk ? result.ResultValue : throw new StepFailure($"the inventory of {member.Url} cannot be read: {result.ErrorValue}");
}
