using InfluxProxy.Host.Backends;

namespace InfluxProxy.Host.Http;

/// <summary><c>GET /replica?db=&amp;meas=</c>: the owner of a measurement in every circle (v2.4.7 shape, keys sorted).</summary>
public static class ReplicaEndpoint
{
    private sealed record Replica(string circle, string name, string url);

    public static async Task Handle(HttpContext context, Cluster cluster)
    {
        var form = await RequestValues.Read(context);
        var db = form("db");
        var measurement = form("meas") is { Length: > 0 } meas ? meas : form("mm");
        if (db.Length == 0 || measurement.Length == 0)
        {
            await Errors.BadRequest(context, "invalid db or meas");
            return;
        }
        var replicas = cluster.Owners(db, measurement)
            .Select(b => new Replica(cluster.Circles[b.Circle].Name, b.Name, b.Url.OriginalString.TrimEnd('/')));
        await JsonBody.Write(context, StatusCodes.Status200OK, replicas);
    }
}
