using InfluxProxy.Host.Backends;

namespace InfluxProxy.Host.Http;

/// <summary>Every endpoint of the proxy, in one place.</summary>
public static class Routes
{
    public static void Map(WebApplication app)
    {
        app.Map("/ping", PingEndpoint.Handle);
        app.MapGet("/replica", (HttpContext c, Cluster cluster) => ReplicaEndpoint.Handle(c, cluster));
        app.MapPost("/write", (HttpContext c, WritePipeline pipeline, BackendSet backends, ProxyConfig config, TimeProvider time) =>
            WriteEndpoint.Handle(c, pipeline, backends, config, time));
    }
}
