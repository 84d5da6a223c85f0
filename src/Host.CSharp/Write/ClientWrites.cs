namespace InfluxProxy.Host.Write;

/// <summary>Whether clients are writing through the proxy: a migration steps back while they do (<see cref="Core.MigrationPace"/>).</summary>
public sealed class ClientWrites(TimeProvider time)
{
    /// <summary>A write this recent means clients are writing: longer than the 10 s between Telegraf's flushes.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(15);

    private long _last = long.MinValue;

    public void Mark() => Volatile.Write(ref _last, time.GetTimestamp());

    public bool Ongoing => Volatile.Read(ref _last) is var last && last != long.MinValue && time.GetElapsedTime(last) < Window;
}
