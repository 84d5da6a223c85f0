using InfluxProxy.Core;

namespace InfluxProxy.Host.Write;

/// <summary>What the write path needs from <c>proxy.json</c>.</summary>
/// <param name="Ack">When a request is answered (<c>write_ack</c>).</param>
/// <param name="FlushSize">Lines per chunk (and per batch).</param>
/// <param name="WriteTimeout">How long a new request waits for the previous run's journal.</param>
/// <param name="RewriteInterval">Between redeliveries from the journal.</param>
/// <param name="MaxConcurrentBytes">Bytes of the bodies written at once (<c>max_concurrent_write_bytes</c>).</param>
public sealed record WriteOptions(WriteAck Ack, int FlushSize, TimeSpan WriteTimeout, TimeSpan RewriteInterval, long MaxConcurrentBytes)
{
    public static WriteOptions From(ProxyConfig config) =>
        new(config.WriteAck, config.FlushSize, config.WriteTimeout, config.RewriteInterval, config.MaxConcurrentWriteBytes);
}
