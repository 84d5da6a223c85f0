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
        var (resyncingText, circleText, migratingText) = (form("resyncing"), form("circle_id"), form("migrating"));
        if (resyncingText.Length == 0 && circleText.Length == 0 && migratingText.Length == 0)
        {
            await Errors.BadRequest(context, "missing query parameter");
            return;
        }
        bool? resyncing = null;
        if (resyncingText.Length > 0)
        {
            if (GoBool(resyncingText) is not { } value)
            {
                await Errors.BadRequest(context, "illegal resyncing");
                return;
            }
            resyncing = value;
        }
        (int, bool)? circle = null;
        if (circleText.Length > 0 || migratingText.Length > 0)
        {
            if (!int.TryParse(circleText, out var id) || id < 0 || id >= cluster.Circles.Count)
            {
                await Errors.BadRequest(context, "invalid circle_id");
                return;
            }
            if (GoBool(migratingText) is not { } migrating)
            {
                await Errors.BadRequest(context, "illegal migrating");
                return;
            }
            circle = (id, migrating);
        }
        var after = state.Update(resyncing, circle);
        var body = new SortedDictionary<string, object>(StringComparer.Ordinal);
        if (circle is var (cid, _))
            body["circle"] = new CircleState(cid, cluster.Circles[cid].Name, after.Migrating[cid]);
        if (resyncing is not null)
            body["resyncing"] = after.Resyncing;
        await JsonBody.Write(context, StatusCodes.Status200OK, body);
    }

    /// <summary>Go's strconv.ParseBool.</summary>
    private static bool? GoBool(string text) => text switch
    {
        "1" or "t" or "T" or "TRUE" or "true" or "True" => true,
        "0" or "f" or "F" or "FALSE" or "false" or "False" => false,
        _ => null,
    };
}
