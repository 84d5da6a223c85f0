namespace InfluxProxy.Host.Backends;

public enum BackendState
{
    /// <summary>Not probed yet; writes are tried (optimistic, as the original).</summary>
    Unknown,
    Up,
    Down,
    /// <summary>Answers, but refuses our credentials: data waits in the backlog until the config is fixed.</summary>
    Unauthorized,
}

/// <summary>
/// The last known state of one backend. The health monitor owns it; a writer that sees a failure may report it
/// early so the next batches go to the backlog without waiting for a timeout.
/// </summary>
public sealed class BackendHealth
{
    private int _state = (int)BackendState.Unknown;

    public BackendState State => (BackendState)Volatile.Read(ref _state);

    /// <summary>Writes may be sent directly (not only to the backlog).</summary>
    public bool AcceptsWrites => State is BackendState.Up or BackendState.Unknown;

    public void Set(BackendState state) => Volatile.Write(ref _state, (int)state);
}
