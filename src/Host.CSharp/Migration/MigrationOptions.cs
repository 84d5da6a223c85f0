using System.IO.Compression;
using InfluxProxy.Core;


namespace InfluxProxy.Host.Migration;

/// <summary>What migration jobs need from <c>proxy.json</c>.</summary>
/// <param name="Batch">Lines per batch read and written, unless a request says (<c>migrate_batch</c>).</param>
/// <param name="Gzip">Compression of the batches toward the destinations, as for live writes.</param>
/// <param name="HaAddrs">The peers told of the flags until a request names others (<c>ha_addrs</c>).</param>
/// <param name="LogDir">Where the per-operation logs go (<c>mlog_dir</c>).</param>
/// <param name="WorkersWhileWriting">Steps run at once while clients write (<c>migrate_workers_while_writing</c>).</param>
public sealed record MigrationOptions(int Batch, CompressionLevel? Gzip, IReadOnlyList<string> HaAddrs, string LogDir, int WorkersWhileWriting)
{
    public static MigrationOptions From(ProxyConfig config) =>
        new(config.MigrateBatch, Write.Gzip.Level(ProxyConfigModule.compression(config)), [.. config.HaAddrs], config.MlogDir,
            config.MigrateWorkersWhileWriting);
}
