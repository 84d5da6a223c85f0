using System.Text.Json;
using InfluxProxy.Core;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// What the members a job reads from hold (<see cref="Inventory"/>): their databases (but <c>_internal</c>), each
/// database's retention policies, each policy's measurements with their point counts, and their shard groups. A
/// member that cannot be read fails the plan: a plan made without it would leave its data where it is, unsaid.
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

    private static async Task<(List<Holding> Holdings, List<Tuple<Tuple<int, string, string>, FSharpList<Tuple<long, long>>>> Groups)> ReadMemberAsync(
        MigrationBackends backends, MigrationMember member, FSharpList<string> wanted, CancellationToken ct)
    {
        var schema = backends.Schema(member);
        var dbs = Ok(await schema.DatabasesAsync(ct), member).Where(db => db != "_internal" && (wanted.IsEmpty || wanted.Contains(db))).ToList();
        var holdings = new List<Holding>();
        foreach (var db in dbs)
            foreach (var policy in Ok(await schema.RetentionPoliciesAsync(db, ct), member))
                await foreach (var series in ChunkedAnswer.SeriesAsync(schema.Relay, db, MigrationQueries.measurementCounts(policy.Name), 10_000, ct))
                    holdings.Add(new Holding(member.Id, db, policy.Name, series.GetProperty("name").GetString()!, FSharpOption<long>.Some(MostCounted(series))));
        var groups = Ok(await schema.ShardGroupsAsync(ct), member)
            .Where(g => dbs.Contains(g.Db))
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
