using InfluxProxy.Core;
using Microsoft.FSharp.Collections;

namespace InfluxProxy.Host.Http;

/// <summary>What the endpoints need from <c>proxy.json</c>.</summary>
/// <param name="DbList">The database whitelist (<see cref="Whitelist"/>); empty allows every database.</param>
/// <param name="MaxBodySize">The largest /write body, in bytes, after gzip decompression too.</param>
/// <param name="WriteTimeout">How long /health waits for a backend's answers.</param>
/// <param name="ProfilingOpen">Whether /debug/pprof serves (<see cref="ProxyConfigModule.profilingOpen"/>).</param>
public sealed record EndpointOptions(FSharpList<string> DbList, int MaxBodySize, TimeSpan WriteTimeout, bool ProfilingOpen)
{
    public static EndpointOptions From(ProxyConfig config) =>
        new(config.DbList, config.MaxBodySize, config.WriteTimeout, ProxyConfigModule.profilingOpen(config));
}
