using InfluxProxy.Host.Config;

namespace InfluxProxy.Host.Http;

/// <summary><c>/ping</c>, any method: 204, or 200 with the version when <c>verbose=true</c> (as InfluxDB 1.x).</summary>
public static class PingEndpoint
{
    private sealed record Verbose(string version);

    public static Task Handle(HttpContext context)
    {
        if (context.Request.Query["verbose"] == "true")
            return JsonBody.Write(context, StatusCodes.Status200OK, new Verbose(BuildInfo.InfluxCompatibleVersion));
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }
}
