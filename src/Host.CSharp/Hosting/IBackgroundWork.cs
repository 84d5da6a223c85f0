namespace InfluxProxy.Host.Hosting;

/// <summary>Something that works in the background between the proxy's start and its stop.</summary>
public interface IBackgroundWork
{
    /// <summary>Starts its loops or threads; returns at once.</summary>
    void Start();

    /// <summary>Stops: finishes, or leaves on disk for the next start, what it holds; then returns.</summary>
    Task StopAsync();
}
