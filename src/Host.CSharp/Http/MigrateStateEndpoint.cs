using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Migration;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>/migrate/state</c> (v2.4.7's shapes) and <c>/transfer/state</c> (v2.5.12's: <c>transferring</c> for
/// <c>migrating</c>, <c>id</c>/<c>name</c> for <c>circle_id</c>/<c>circle_name</c>): GET shows the flags, POST sets
/// <c>resyncing</c> and/or a circle's flag.
/// </summary>
public static class MigrateStateEndpoint
{
    public static Task Get(HttpContext context, Cluster cluster, MigrationState state, bool transfer)
    {
        var now = state.Current;
        var circles = cluster.Circles.Select(c => Circle(c, now.Migrating[c.Id], transfer)).ToList();
        return JsonBody.Write(context, StatusCodes.Status200OK, new Dictionary<string, object>
        {
            ["circles"] = circles,
            [transfer ? "resyncing" : "is_resyncing"] = now.Resyncing,
        });
    }

    public static async Task Post(HttpContext context, Cluster cluster, MigrationState state, bool transfer)
    {
        var form = await RequestValues.Read(context);
        var parsed = MigrationFlagsModule.parseUpdate(cluster.Circles.Count, form("resyncing"), form("circle_id"), form(transfer ? "transferring" : "migrating"));
        if (parsed.IsError)
        {
            var error = parsed.ErrorValue.IsIllegalMigrating && transfer ? "illegal transferring" : MigrationUpdateErrorModule.text(parsed.ErrorValue);
            await Errors.BadRequest(context, error);
            return;
        }
        var update = parsed.ResultValue;
        // A peer's job sets its flag with a lease (PeerFlags): cleared unless renewed in time.
        var lease = int.TryParse(context.Request.Headers[PeerFlags.LeaseHeader], out var seconds) && seconds > 0 ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
        var after = state.Update(update, lease);
        var body = new SortedDictionary<string, object>(StringComparer.Ordinal);
        if (update.Circle is { } circle)
            body["circle"] = Circle(cluster.Circles[circle.Value.Item1], after.Migrating[circle.Value.Item1], transfer);
        if (update.Resyncing is not null)
            body["resyncing"] = after.Resyncing;
        await JsonBody.Write(context, StatusCodes.Status200OK, body);
    }

    private static Dictionary<string, object> Circle(CircleInfo circle, bool migrating, bool transfer) => transfer
        ? new() { ["id"] = circle.Id, ["name"] = circle.Name, ["transferring"] = migrating }
        : new() { ["circle_id"] = circle.Id, ["circle_name"] = circle.Name, ["is_migrating"] = migrating };
}
