using InfluxProxy.Core;

namespace InfluxProxy.Host.Backends;

/// <summary>
/// The last known state of one backend. Every change goes through <see cref="BackendStateModule.next"/>: the health
/// monitor reports pings, the writer and the replayer report what the backend did with a write, so the next batches
/// go to the backlog at once, without waiting for a ping.
/// </summary>
public sealed class BackendHealth
{
    private BackendState _state = BackendState.Unknown;
    private string _problem = "";

    public BackendState State => Volatile.Read(ref _state);

    /// <summary>Why the last ping failed; "" when it succeeded or none was made yet.</summary>
    public string Problem => Volatile.Read(ref _problem);

    /// <summary>Writes may be sent directly (not only to the backlog).</summary>
    public bool AcceptsWrites => BackendStateModule.acceptsWrites(State);

    /// <summary>Applies a ping's answer and keeps why it failed.</summary>
    public (BackendState Before, BackendState After) Pinged(BackendState state, string problem)
    {
        Volatile.Write(ref _problem, problem);
        return Learn(HealthEvent.NewPinged(state));
    }

    public void Wrote(WriteOutcome outcome) => Learn(HealthEvent.NewWrote(outcome));

    /// <summary>Applies what was learned; the states before and after.</summary>
    private (BackendState Before, BackendState After) Learn(HealthEvent learned)
    {
        while (true)
        {
            var before = State;
            var after = BackendStateModule.next(before, learned);
            if (ReferenceEquals(Interlocked.CompareExchange(ref _state, after, before), before))
                return (before, after);
        }
    }
}
