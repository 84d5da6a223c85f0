using System.IO.Compression;
using InfluxProxy.Core;
using InfluxProxy.Host.Write;

namespace InfluxProxy.Host.Backends;

/// <summary>What the parts serving a backend need from <c>proxy.json</c>.</summary>
/// <param name="DataDir">Where the backlogs and quarantine folders are.</param>
/// <param name="BacklogMaxSize">Cap of each backlog in bytes; 0 = unbounded.</param>
/// <param name="GzipLevel">Compression of batches toward the backends; null for none.</param>
/// <param name="FlushSize">Lines per batch.</param>
/// <param name="RewriteInterval">Between replay attempts.</param>
/// <param name="CheckInterval">Between pings.</param>
/// <param name="WriteTimeout">Bound of a write, a ping or a connection.</param>
public sealed record BackendOptions(
    string DataDir, long BacklogMaxSize, CompressionLevel? GzipLevel, int FlushSize, TimeSpan RewriteInterval, TimeSpan CheckInterval,
    TimeSpan WriteTimeout)
{
    public static BackendOptions From(ProxyConfig config) => new(
        config.DataDir, config.BacklogMaxSize, Gzip.Level(ProxyConfigModule.compression(config)), config.FlushSize, config.RewriteInterval,
        config.CheckInterval, config.WriteTimeout);
}
