using InfluxProxy.Host.Config;

namespace InfluxProxy.Host.Http;

/// <summary>Headers InfluxDB puts on every response: version, build and a request id.</summary>
public static class ProxyHeaders
{
    public static Task Add(HttpContext context, Func<Task> next)
    {
        var headers = context.Response.Headers;
        var requestId = Guid.NewGuid().ToString();
        headers["X-Influxdb-Version"] = BuildInfo.InfluxCompatibleVersion;
        headers["X-Influxdb-Build"] = BuildInfo.BuildHeader;
        headers["Request-Id"] = requestId;
        headers["X-Request-Id"] = requestId;
        return next();
    }
}
