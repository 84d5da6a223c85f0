using InfluxProxy.Host.Http;
using InfluxProxy.Host.Write;

namespace InfluxProxy.Host.RemoteStorage;

/// <summary>What both remote storage endpoints take first: a database the whitelist allows, and the request's body.</summary>
public static class PromRequest
{
    /// <summary>The database and the body (the caller disposes it); null once the request was answered with its refusal.</summary>
    public static async Task<(string Db, PooledBuffer Body)?> OpenAsync(HttpContext context, EndpointOptions options)
    {
        var db = context.Request.Query["db"].ToString();
        if (db.Length == 0)
        {
            await Errors.BadRequest(context, "database is required");
            return null;
        }
        if (await WriteEndpoint.RefusedAsync(context, options, db) || await WriteEndpoint.BodyAsync(context, options) is not { } body)
            return null;
        return (db, body);
    }
}
