using InfluxProxy.Core;
using Microsoft.FSharp.Collections;

namespace InfluxProxy.Host.Migration;

/// <summary>
/// A job's plan from what its members hold now: the inventory, then the plan (<see cref="MigrationPlan.plan"/>); then
/// the points of what it copies are counted (for the progress, and so a copy an earlier job finished is not done
/// again) and the plan made again with them.
/// </summary>
public static class Planner
{
    public static async Task<PlannedJob> PlanAsync(MigrationBackends backends, IReadOnlyList<MigrationMember> members, MigrationOperation operation,
        FSharpList<string> dbs, FSharpSet<Tuple<string, string, string, string, string>> copied, int parallel, CancellationToken ct)
    {
        var ring = backends.Ring(members);
        var inventory = await InventoryReader.ReadAsync(backends, members.Where(m => ReadsFrom(operation, m)), dbs, copied, ct);
        var steps = MigrationPlan.plan(ring, inventory, dbs, operation);
        var copiedFrom = steps.Where(s => s.Kind.IsCopy).Select(s => (s.Source, s.Db, s.Rp, s.Measurement)).ToHashSet();
        var uncounted = inventory.Holdings.Where(h => h.Points is null && copiedFrom.Contains((h.Backend, h.Db, h.Rp, h.Measurement))).ToList();
        if (uncounted.Count > 0)
        {
            inventory = await InventoryReader.CountAsync(backends, members, inventory, uncounted, parallel, ct);
            steps = MigrationPlan.plan(ring, inventory, dbs, operation);
        }
        return new PlannedJob(ListModule.OfSeq(members), inventory.Holdings, steps);
    }

    /// <summary>The members whose holdings a plan needs: the sources, and the destinations whose copies may already be whole.</summary>
    private static bool ReadsFrom(MigrationOperation operation, MigrationMember member) => operation switch
    {
        MigrationOperation.Rebalance r => member.Circle == r.circle,
        MigrationOperation.Clear c => member.Circle == c.circle,
        MigrationOperation.Recovery r => member.Circle == r.fromCircle || member.Circle == r.toCircle,
        _ => true,
    };
}
