using InfluxProxy.Core;
using InfluxProxy.Host.Backends;
using InfluxProxy.Host.Migration;

namespace InfluxProxy.Host.Http;

/// <summary><c>/migrate/state</c>: GET shows the flags, POST sets <c>resyncing</c> and/or a circle's <c>migrating</c> (v2.4.7 shapes).</summary>
public static class MigrateStateEndpoint
{
    private sealed record CircleState(int circle_id, string circle_name, bool is_migrating);
    private sealed record State(IReadOnlyList<CircleState> circles, bool is_resyncing);

    public static Task Get(HttpContext context, Cluster cluster, MigrationState state)
    {
        var now = state.Current;
        var circles = cluster.Circles.Select(c => new CircleState(c.Id, c.Name, now.Migrating[c.Id])).ToList();
        return JsonBody.Write(context, StatusCodes.Status200OK, new State(circles, now.Resyncing));
    }

    public static async Task Post(HttpContext context, Cluster cluster, MigrationState state)
    {
        var form = await RequestValues.Read(context);
        var parsed = MigrationFlagsModule.parseUpdate(cluster.Circles.Count, form("resyncing"), form("circle_id"), form("migrating"));
        if (parsed.IsError)
        {
            await Errors.BadRequest(context, MigrationUpdateErrorModule.text(parsed.ErrorValue));
            return;
        }
        var update = parsed.ResultValue;
        // A peer's job sets its flag with a lease (PeerFlags): cleared unless renewed in time.
        var lease = int.TryParse(context.Request.Headers[PeerFlags.LeaseHeader], out var seconds) && seconds > 0 ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
        var after = state.Update(update, lease);
        var body = new SortedDictionary<string, object>(StringComparer.Ordinal);
        if (update.Circle is { } circle)
            body["circle"] = new CircleState(circle.Value.Item1, cluster.Circles[circle.Value.Item1].Name, after.Migrating[circle.Value.Item1]);
        if (update.Resyncing is not null)
            body["resyncing"] = after.Resyncing;
        await JsonBody.Write(context, StatusCodes.Status200OK, body);
    }
}
